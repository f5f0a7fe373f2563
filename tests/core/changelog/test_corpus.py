"""The labelled corpus (corpus/changelogs, real files with provenance), scored as tools/score-changelogs does."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from core.changelog import decode, detect_format, parse

ROOT = Path(__file__).resolve().parents[3]
CASES = sorted(p for p in (ROOT / "corpus" / "changelogs").iterdir() if (p / "expected.json").exists())


def _scorer() -> ModuleType:
    path = ROOT / "tools" / "score-changelogs"
    loader = importlib.machinery.SourceFileLoader("score_changelogs", str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def scores() -> dict[str, dict[str, Any]]:
    scorer = _scorer()
    results = {}
    for case in CASES:
        expected, path = scorer.load_case(case)
        decoded = decode(path.read_bytes(), limit=50_000_000)
        entries = parse(decoded.text, format=detect_format(path.name, decoded.text), filename=path.name)
        found = [
            {"version": e.version, "date": e.date.isoformat() if e.date else None, "body": e.body} for e in entries
        ]
        results[case.name] = scorer.score_case(expected, found)
    return results


def test_corpus_has_its_56_cases() -> None:
    assert len(CASES) == 56


def test_corpus_meets_the_thresholds(scores: dict[str, dict[str, Any]]) -> None:
    total = {key: sum(s[key] for s in scores.values()) for key in ("want", "hits", "dates_total", "dates_ok")}
    false_positives = sum(len(s["false_pos"]) for s in scores.values())
    contains_total = sum(s["contains_total"] for s in scores.values())
    contains_ok = sum(s["contains_ok"] for s in scores.values())
    recall = total["hits"] / total["want"]
    precision = total["hits"] / (total["hits"] + false_positives)
    f1 = 2 * recall * precision / (recall + precision)
    assert f1 >= 0.99, {
        name: (s["missed"], s["false_pos"]) for name, s in scores.items() if s["missed"] or s["false_pos"]
    }
    assert total["dates_ok"] / total["dates_total"] >= 0.98
    assert contains_ok / contains_total >= 0.98, {
        n: s["contains_missed"] for n, s in scores.items() if s["contains_missed"]
    }


@pytest.mark.parametrize("case", [c.name for c in CASES])
def test_corpus_case_keeps_document_order(scores: dict[str, dict[str, Any]], case: str) -> None:
    assert scores[case]["order_ok"]
