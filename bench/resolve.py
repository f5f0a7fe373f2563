"""Repository resolution throughput: the recorded registry samples plus 100,000 generated real-world forms.

    python -m bench.resolve [--count N] [--runs R]

Prints what resolved and how fast; the last line is one JSON object with ``resolutions_per_s`` (the median of
the runs over the generated set; the issue asks for at least 50,000/s).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.clients import resolve_gem, resolve_manifest, resolve_project
from core.repourl import Resolution, resolve

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "registries"
TARGET_PER_S = 50_000

# Forms seen in npm, PyPI and RubyGems metadata; {o}/{r} are filled with generated names.
_GITHUB_FORMS = [
    "{o}/{r}",
    "github:{o}/{r}",
    "git+https://github.com/{o}/{r}.git",
    "git+ssh://git@github.com/{o}/{r}.git",
    "ssh://git@github.com/{o}/{r}.git",
    "git://github.com/{o}/{r}.git",
    "git@github.com:{o}/{r}.git",
    "https://github.com/{o}/{r}",
    "https://github.com/{o}/{r}/",
    "https://github.com/{o}/{r}#readme",
    "http://github.com/{o}/{r}",
    "https://www.github.com/{o}/{r}/tree/main/packages/{r}",
    "https://github.com/{o}/{r}/blob/v1.2.3/lib/{r}/CHANGELOG.md",
    "HTTPS://GitHub.com/{o}/{r}.git?ref=main",
    "  https://user:token@github.com/{o}/{r}.git  ",
    "github.com/{o}/{r}",
]
_OTHER_FORMS = [
    "https://github.com/{o}/{r}/issues",
    "https://gitlab.com/{o}/{r}",
    "https://bitbucket.org/{o}/{r}",
    "https://codeberg.org/{o}/{r}",
    "https://gist.github.com/{o}/{r}",
    "https://github.com/{o}",
    "https://{o}.github.io/{r}",
    "https://{r}.readthedocs.io/en/latest/",
    "UNKNOWN",
    "",
]


def generated_forms(count: int, *, seed: int = 753) -> list[object]:
    """``count`` distinct forms: 80% GitHub (a tenth of them npm objects with a directory), 20% other."""
    rng = random.Random(seed)
    forms: list[object] = []
    for i in range(count):
        owner = f"{rng.choice(['dev', 'acme', 'the', 'open'])}-{i:06d}"
        repo = f"{rng.choice(['lib', 'kit', 'js', 'py'])}{rng.randrange(10**6)}.{i}"
        roll = rng.random()
        if roll < 0.08:
            forms.append({"type": "git", "url": f"git+https://github.com/{owner}/{repo}.git", "directory": f"pkg/{i}"})
        elif roll < 0.8:
            forms.append(rng.choice(_GITHUB_FORMS).format(o=owner, r=repo))
        else:
            forms.append(rng.choice(_OTHER_FORMS).format(o=owner, r=repo))
    return forms


def recorded_samples() -> list[tuple[str, Callable[[Any], Any], dict[str, Any]]]:
    """Every package document in the recorded samples, with the registry's resolution function."""
    samples: list[tuple[str, Callable[[Any], Any], dict[str, Any]]] = []
    for path in sorted((CORPUS / "npm").glob("packument_*.json")):
        packument = json.loads(path.read_text())
        samples.append(("npm", resolve_manifest, packument))
        samples.extend(("npm", resolve_manifest, manifest) for manifest in packument["versions"].values())
    samples.append(("npm", resolve_manifest, json.loads((CORPUS / "npm" / "version_etag_1.0.0.json").read_text())))
    changes = json.loads((CORPUS / "npm" / "changes_include_docs.json").read_text())
    samples.extend(("npm", resolve_manifest, row["doc"]) for row in changes["results"])
    for path in sorted((CORPUS / "pypi").glob("json-api_*.json")):
        samples.append(("pypi", resolve_project, json.loads(path.read_text())["info"]))
    for name in ("gems_activerecord.json", "v2-rubygems_rails_versions_8.0.2.json"):
        samples.append(("rubygems", resolve_gem, json.loads((CORPUS / "rubygems" / name).read_text())))
    return samples


def _time_run(forms: list[object]) -> tuple[float, list[Resolution]]:
    started = time.perf_counter()
    results = [resolve(form) for form in forms]
    return time.perf_counter() - started, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="generated forms (default 100,000)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs over the generated set (median reported)")
    args = parser.parse_args()

    samples = recorded_samples()
    started = time.perf_counter()
    sources = [(registry, fn(document)) for registry, fn, document in samples]
    samples_s = time.perf_counter() - started
    by_registry = Counter(registry for registry, _ in sources)
    resolved = Counter(registry for registry, source in sources if source.repo is not None)
    for registry in sorted(by_registry):
        print(f"recorded {registry:9} {resolved[registry]:4d} of {by_registry[registry]:4d} packages on GitHub")

    forms = generated_forms(args.count)
    durations = []
    results: list[Resolution] = []
    for _ in range(args.runs):
        seconds, results = _time_run(forms)
        durations.append(seconds)
    median_s = statistics.median(durations)
    rate = len(forms) / median_s
    outcomes = Counter("github" if r.repo else (r.reason or "?") for r in results)
    print(f"generated {len(forms):,} forms: " + ", ".join(f"{k} {v:,}" for k, v in outcomes.most_common()))
    print(f"runs: {', '.join(f'{d * 1000:.0f} ms' for d in durations)}; median {rate:,.0f} resolutions/s")
    print(f"target >= {TARGET_PER_S:,}/s: {'met' if rate >= TARGET_PER_S else 'NOT met'}")
    print(
        json.dumps(
            {
                "resolutions_per_s": round(rate),
                "generated": len(forms),
                "runs": args.runs,
                "median_s": round(median_s, 4),
                "generated_github": outcomes["github"],
                "recorded_packages": len(samples),
                "recorded_on_github": sum(resolved.values()),
                "recorded_per_s": round(len(samples) / samples_s) if samples_s else None,
                "target_per_s": TARGET_PER_S,
            }
        )
    )


if __name__ == "__main__":
    main()
