"""Writing speed: median and worst over seeds, whole process and in process, on the CPU.

    python benchmarks/write_speed.py                       # seeds 1-8, every workload
    python benchmarks/write_speed.py --seeds 12 --only page
    python benchmarks/write_speed.py --candidates 1           # without verified writing
    python benchmarks/write_speed.py --model run/best.pth --candidates 4
    python benchmarks/write_speed.py --against /tmp/base      # beside another checkout, seed by seed

Three workloads, each run once per seed (a best-of figure hides the slow seeds a
user meets; the median and the worst are what they get):

- ``note``: one line, ``scribe write "..." -o note.png`` (``note-svg``: to SVG, the default format);
- ``page``: a 20-line page of ordinary sentences to PNG;
- ``document``: 250 lines (about ten A4 pages) to PDF.

For each: ``whole_process`` runs the command as a user does (interpreter start,
imports, model loading, sampling, layout, the file), ``in_process`` times what
``scribe write`` does once started: ``Scribe.write_pages(...).save(file)`` on a model
already loaded (a PDF's pages drawn as they come, while the next are sampled); the
table ``render_after`` times ``Scribe.write`` and rendering the whole document after
it, as a caller that holds the document does. The page also
runs ``one_line_at_a_time``: every line sampled in a batch of its own, to show what
batching buys. Lines per second are the lines over the median in-process time.
Run it on an otherwise idle machine; ``--busy N`` keeps N other processes busy on
the CPU throughout, as a user's other programs do (sampling keeps BLAS to one thread
in each of its two processes, so a busy core slows it instead of stalling it).

A shared machine's speed drifts by 20-30% from one quarter of an hour to the next,
so two builds timed one after the other can differ by more than either change made.
``--against DIR`` times a second checkout (DIR holds its ``src``) whole-process
beside this one, seed by seed, the two runs of each seed in turns, so that both
meet the same drift; its figures are reported as ``against``.

Targets (issue 15, 2 cores): page median <= 1.0 s whole-process without verified
writing and <= 1.5 s with it, its worst seed <= 1.5x its median; note <= 0.5 s;
document >= 40 lines per second.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from scribe.writing.document import Scribe
from scribe.writing.registry import DEFAULT_MODEL
from scribe.writing.sampling import DEFAULT_CANDIDATES, SamplingOptions, write_lines
from scribe.writing.styles import conditioning_for

# Twenty lines that each fit one line of an A4 page at the default x-height.
PAGE = [
    "Meet me at the station before nine.",
    "The garden was quiet after the rain.",
    "Please bring two copies of the report.",
    "We walked along the river until dusk.",
    "Her letter arrived on a cold Monday.",
    "The train to Oxford leaves at 7:45.",
    "Thank you for the lovely flowers!",
    "Remember to water the tomato plants.",
    "He wrote the address on the envelope.",
    "A small boat drifted past the pier.",
    "The meeting is moved to Thursday.",
    "Lunch is at noon in the blue room.",
    "Could you call me back this evening?",
    "The old clock in the hall stopped.",
    "Buy milk, bread, eggs and coffee.",
    "The museum opens again in April.",
    "They sang songs around the fire.",
    "Keep the receipt for the new lamp.",
    "The children ran down to the beach.",
    "See you soon, and take care. Anna",
]
NOTE = "Meet me at the station before nine tonight."
WORKLOADS = {  # name: (text, output file, lines)
    "note": (NOTE, "note.png", 1),
    "note-svg": (NOTE, "note.svg", 1),  # scribe write's default format, which needs no cairo
    "page": ("\n".join(PAGE), "page.png", len(PAGE)),
    "document": ("\n".join(PAGE * 12 + PAGE[:10]), "document.pdf", 12 * len(PAGE) + 10),
}


def per_seed(run: Callable[[int], object], seeds: list[int]) -> list[float]:
    """Seconds that ``run(seed)`` takes, for every seed."""
    times = []
    for seed in seeds:
        start = time.perf_counter()
        run(seed)
        times.append(time.perf_counter() - start)
    return times


def installed_environment() -> dict[str, str]:
    """The environment for timing ``scribe`` as an installed package runs: with Python's compiled bytecode cached.

    An editable install under PYTHONDONTWRITEBYTECODE would compile scribe again at every start.
    """
    return {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def summary(times: list[float]) -> dict[str, float]:
    """Median and worst, in seconds, and how many times the median the worst is."""
    median, worst = statistics.median(times), max(times)
    return {"median_s": round(median, 3), "worst_s": round(worst, 3), "worst_over_median": round(worst / median, 2)}


def whole_process_times(command: list[str], seeds: list[int], against: Path | None) -> tuple[list[float], list[float]]:
    """Seconds per seed of ``command`` run as a user runs it, and of the checkout ``against`` run in turns with it."""
    builds = [installed_environment()]
    if against is not None:
        builds.append({**builds[0], "PYTHONPATH": str(against / "src")})
    for environment in builds:  # untimed: caches bytecode
        subprocess.run([*command, "--seed", "0"], check=True, capture_output=True, env=environment)
    times: list[list[float]] = [[] for _ in builds]
    for turn, seed in enumerate(seeds):
        for build in (range(len(builds)) if turn % 2 == 0 else reversed(range(len(builds)))):
            start = time.perf_counter()
            subprocess.run([*command, "--seed", str(seed)], check=True, capture_output=True, env=builds[build])
            times[build].append(time.perf_counter() - start)
    return times[0], times[1] if against is not None else []


def measure(scribe: Scribe, name: str, seeds: list[int], settings: argparse.Namespace, folder: Path) -> dict[str, object]:
    text, output, lines = WORKLOADS[name]
    candidates = settings.candidates
    source = folder / f"{name}.txt"
    source.write_text(text, encoding="utf-8")
    command = [sys.executable, "-m", "scribe", "write", "--input", str(source), "-o", str(folder / output),
               "--model", settings.model, "--keep-lines", "--candidates", str(candidates)]
    whole, against = whole_process_times(command, seeds, settings.against)
    fmt = Path(output).suffix[1:]
    target = folder / f"in-process-{output}"
    inside = per_seed(lambda seed: scribe.write_pages(text, seed=seed, reflow=False, candidates=candidates).save(target), seeds)
    after = per_seed(lambda seed: scribe.write(text, seed=seed, reflow=False, candidates=candidates).render(fmt), seeds)
    result: dict[str, object] = {"lines": lines, "whole_process": summary(whole), "in_process": summary(inside),
                                 "render_after": summary(after), "lines_per_second": round(lines / statistics.median(inside), 1)}
    if against:
        result["against"] = {"whole_process": summary(against)}
    if name == "page":
        options = SamplingOptions(conditioning=conditioning_for(scribe.model))
        alone = per_seed(lambda seed: [write_lines(scribe.model, [line], options, seed=seed) for line in PAGE], seeds)
        result["one_line_at_a_time"] = summary(alone)
    return result


@contextlib.contextmanager
def busy_processes(count: int) -> Iterator[None]:
    """``count`` other processes spinning on the CPU while the block runs."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--seeds", type=int, default=8, help="seeds 1..N, one run each (at least 8)")
    parser.add_argument("--candidates", type=int, default=DEFAULT_CANDIDATES,
                        help="verified writing: samples a misread line may get (1: off) [default: scribe write's]")
    parser.add_argument("--only", choices=list(WORKLOADS), action="append", help="run only these workloads")
    parser.add_argument("--busy", type=int, default=0, help="other processes kept busy on the CPU meanwhile")
    parser.add_argument("--against", type=Path, help="another checkout (holding src/) timed whole-process beside this one")
    args = parser.parse_args()
    seeds = list(range(1, args.seeds + 1))
    scribe = Scribe(args.model)
    assert len(scribe.write("\n".join(PAGE), reflow=False).lines) == len(PAGE), "a line of the page wrapped"
    report: dict[str, object] = {"model": args.model, "seeds": len(seeds), "candidates": args.candidates, "busy": args.busy,
                                 "against": str(args.against) if args.against else None}
    with tempfile.TemporaryDirectory() as folder, busy_processes(args.busy):
        for name in args.only or list(WORKLOADS):
            report[name] = measure(scribe, name, seeds, args, Path(folder))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
