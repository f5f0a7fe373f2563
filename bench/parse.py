"""Parse and render the whole labelled corpus in one process: ``python -m bench.parse [--rounds N]``.

Parse speed is the corpus's bytes over the time ``core.changelog.parse`` takes on every file; render speed is the
bytes of every version's body over the time ``core.changelog.render`` (sanitizing included) takes on all of
them. Times are CPU seconds of this process (one core), the median of several rounds; the slowest and fastest
rounds are reported beside it, because other processes on the machine slow a round down. Render is also given per
format, with the share of reStructuredText that ``core.changelog.rst`` renders itself (docutils renders the rest,
an order of magnitude slower). The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from core import changelog
from core.changelog.rst import subset_html
from core.models import RepoRef

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "changelogs"
_Body = tuple[str, RepoRef, str, dict[str, str]]


def _load() -> list[tuple[str, str, str, RepoRef]]:
    """(path in its repository, format, text, repository) of every corpus case."""
    cases = []
    for case in sorted(p for p in CORPUS.iterdir() if (p / "expected.json").exists()):
        expected = json.loads((case / "expected.json").read_text())
        source = case / Path(expected["path"]).name
        decoded = changelog.decode(source.read_bytes(), limit=50_000_000)
        fmt = changelog.detect_format(source.name, decoded.text)
        repo = RepoRef.parse(expected["source"].removeprefix("github:"))
        cases.append((expected["path"], fmt, decoded.text, repo))
    return cases


def _seconds(work: Callable[[], object]) -> tuple[float, float]:
    """CPU seconds and wall seconds of one run of ``work``.

    CPU time of this process is what "MB/s on one core" means; wall time also counts whatever else the machine
    runs (developers share its two cores), so it is reported beside it.
    """
    started, started_cpu = time.perf_counter(), time.process_time()
    work()
    return time.process_time() - started_cpu, time.perf_counter() - started


def _render_all(fmt: str, bodies: list[_Body]) -> None:
    for body, repo, path, definitions in bodies:
        changelog.render(body, format=fmt, repo=repo, path=path, definitions=definitions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    cases = _load()
    corpus_bytes = sum(len(text.encode()) for _, _, text, _ in cases)
    parse_rounds = [
        _seconds(lambda: [changelog.parse(t, format=f) for _, f, t, _ in cases]) for _ in range(args.rounds)
    ]

    bodies: dict[str, list[_Body]] = {}
    for path, fmt, text, repo in cases:
        definitions = changelog.link_definitions(text) if fmt == "markdown" else {}
        for entry in changelog.parse(text, format=fmt):
            bodies.setdefault(fmt, []).append((entry.body, repo, path, definitions))
    sizes = {fmt: sum(len(body.encode()) for body, _, _, _ in items) for fmt, items in bodies.items()}
    render_bytes = sum(sizes.values())
    rst = bodies.get("rst", [])
    rst_subset_bytes = sum(len(body.encode()) for body, repo, _, _ in rst if subset_html(body, repo) is not None)
    for fmt, items in bodies.items():
        _render_all(fmt, items)  # first use pays one-off set-up (docutils' settings, patterns), which rounds should not

    cpu: dict[str, list[float]] = {fmt: [] for fmt in bodies}
    totals, wall_totals = [], []
    for _ in range(args.rounds):
        total = wall_total = 0.0
        for fmt, items in sorted(bodies.items()):
            seconds, wall = _seconds(lambda fmt=fmt, items=items: _render_all(fmt, items))
            cpu[fmt].append(seconds)
            total += seconds
            wall_total += wall
        totals.append(total)
        wall_totals.append(wall_total)
    per_format = {fmt: sizes[fmt] / 1e6 / statistics.median(seconds) for fmt, seconds in sorted(cpu.items())}
    for fmt, rate in per_format.items():
        print(f"render {fmt:9} {sizes[fmt] / 1e6:6.2f} MB  {statistics.median(cpu[fmt]):6.3f} s CPU  {rate:7.2f} MB/s")

    parse_s = statistics.median(seconds for seconds, _ in parse_rounds)
    render_s = statistics.median(totals)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux
    figures = {
        "cases": len(cases),
        "corpus_mb": round(corpus_bytes / 1e6, 3),
        "rounds": args.rounds,
        "parse_mb_per_s": round(corpus_bytes / 1e6 / parse_s, 2),
        "render_mb_per_s": round(render_bytes / 1e6 / render_s, 2),
        "render_mb_per_s_rounds": [
            round(render_bytes / 1e6 / max(totals), 2),
            round(render_bytes / 1e6 / min(totals), 2),
        ],
        "render_mb_per_s_by_format": {fmt: round(rate, 2) for fmt, rate in per_format.items()},
        "rst_subset_share": round(rst_subset_bytes / sizes["rst"], 4) if rst else None,
        "wall_parse_mb_per_s": round(corpus_bytes / 1e6 / statistics.median(wall for _, wall in parse_rounds), 2),
        "wall_render_mb_per_s": round(render_bytes / 1e6 / statistics.median(wall_totals), 2),
        "peak_rss_mb": round(peak_rss_mb, 1),
    }
    print(f"parse  {corpus_bytes / 1e6:.2f} MB in {parse_s:.3f} s CPU: {figures['parse_mb_per_s']} MB/s")
    print(
        f"render {render_bytes / 1e6:.2f} MB in {render_s:.3f} s CPU: {figures['render_mb_per_s']} MB/s"
        f" (rounds from {figures['render_mb_per_s_rounds'][0]} to {figures['render_mb_per_s_rounds'][1]} MB/s)"
    )
    if rst:
        print(f"rst    {figures['rst_subset_share']:.1%} of the bytes by the subset renderer, the rest by docutils")
    print(f"peak RSS {figures['peak_rss_mb']} MB")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
