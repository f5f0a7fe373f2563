"""Parse and render the whole labelled corpus in one process: ``python -m bench.parse [--rounds N]``.

Parse speed is the corpus's bytes over the time ``core.changelog.parse`` takes on every file; render speed is the
bytes of every version's body over the time ``core.changelog.render`` (sanitizing included) takes on all of
them. Each is the median of several rounds. Render is also given per format, because docutils (rst) is an order
of magnitude slower than cmark-gfm (markdown). The last line is one JSON object with the figures.
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
from core.models import RepoRef

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "changelogs"


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


def _median_seconds(rounds: int, work: Callable[[], object]) -> tuple[float, float]:
    """Median CPU seconds and median wall seconds of ``rounds`` runs of ``work``.

    CPU time of this process is what "MB/s on one core" means; wall time also counts whatever else the machine
    runs (developers share its two cores), so it is reported beside it.
    """
    cpu, wall = [], []
    for _ in range(rounds):
        started, started_cpu = time.perf_counter(), time.process_time()
        work()
        cpu.append(time.process_time() - started_cpu)
        wall.append(time.perf_counter() - started)
    return statistics.median(cpu), statistics.median(wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    cases = _load()
    corpus_bytes = sum(len(text.encode()) for _, _, text, _ in cases)
    parse_s, parse_wall = _median_seconds(args.rounds, lambda: [changelog.parse(t, format=f) for _, f, t, _ in cases])

    bodies: dict[str, list[tuple[str, RepoRef, str, dict[str, str]]]] = {}
    for path, fmt, text, repo in cases:
        definitions = changelog.link_definitions(text) if fmt == "markdown" else {}
        for entry in changelog.parse(text, format=fmt):
            bodies.setdefault(fmt, []).append((entry.body, repo, path, definitions))
    per_format: dict[str, float] = {}
    render_s = render_wall = 0.0
    render_bytes = 0
    for fmt, items in sorted(bodies.items()):
        size = sum(len(body.encode()) for body, _, _, _ in items)

        def render_all(fmt: str = fmt, items: list[tuple[str, RepoRef, str, dict[str, str]]] = items) -> None:
            for body, repo, path, definitions in items:
                changelog.render(body, format=fmt, repo=repo, path=path, definitions=definitions)

        render_all()  # first use pays one-off set-up (docutils' settings), which rounds should not
        seconds, wall = _median_seconds(args.rounds, render_all)
        per_format[fmt] = size / 1e6 / seconds
        render_s += seconds
        render_wall += wall
        render_bytes += size
        print(f"render {fmt:9} {size / 1e6:6.2f} MB  {seconds:6.3f} s CPU  {per_format[fmt]:7.2f} MB/s")

    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux
    figures = {
        "cases": len(cases),
        "corpus_mb": round(corpus_bytes / 1e6, 3),
        "rounds": args.rounds,
        "parse_mb_per_s": round(corpus_bytes / 1e6 / parse_s, 2),
        "render_mb_per_s": round(render_bytes / 1e6 / render_s, 2),
        "render_mb_per_s_by_format": {fmt: round(value, 2) for fmt, value in per_format.items()},
        "wall_parse_mb_per_s": round(corpus_bytes / 1e6 / parse_wall, 2),
        "wall_render_mb_per_s": round(render_bytes / 1e6 / render_wall, 2),
        "peak_rss_mb": round(peak_rss_mb, 1),
    }
    print(f"parse  {corpus_bytes / 1e6:.2f} MB in {parse_s:.3f} s CPU: {figures['parse_mb_per_s']} MB/s")
    print(f"render {render_bytes / 1e6:.2f} MB in {render_s:.3f} s CPU: {figures['render_mb_per_s']} MB/s")
    print(f"peak RSS {figures['peak_rss_mb']} MB")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
