"""What verified writing buys and costs: CER and whole-process time of a page for ``--candidates`` 1 to 4.

    python benchmarks/verified_writing.py                                   # shipped models, seeds 1-8
    python benchmarks/verified_writing.py --judge runs/other-recognizer/best.pth --texts real-world

For every N and seed, ``scribe write --input page.txt -o page.png --candidates N
--seed S`` runs as a user runs it (interpreter start to PNG), timed; the same
page is written in process and read back by the ``--judge`` recognizer. Verified
writing chooses with the shipped recognizer, so a judge that is another recognizer
keeps the score from rewarding ink only the chooser reads right (with the default
judge, the shipped recognizer itself, the CER with N > 1 is optimistic).

Prints, per N: median and worst seconds over the seeds, CER and WER over all
seeds' lines, and the misreadings per class of character. ``--json`` for one
object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scribe.writing.document import Scribe
from scribe.writing.legibility import error_rates, text_set_path
from scribe.writing.reader import InkReader
from scribe.writing.registry import DEFAULT_MODEL, DEFAULT_RECOGNIZER, resolve_model

sys.path.insert(0, str(Path(__file__).parent))
from write_speed import PAGE, installed_environment  # noqa: E402  (the same 20-line page as the speed benchmark)


def page_texts(texts: str | None) -> list[str]:
    """The benchmark page's lines, or the first 20 of a text file or shipped text set."""
    if texts is None:
        return PAGE
    lines = [line.strip() for line in text_set_path(Path(texts)).read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line][:20]


def whole_process_seconds(page: Path, candidates: int, seed: int, model: str) -> float:
    output = page.with_suffix(".png")
    command = [sys.executable, "-m", "scribe", "write", "--input", str(page), "-o", str(output), "--model", model,
               "--candidates", str(candidates), "--seed", str(seed)]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=installed_environment())
    return time.perf_counter() - start


def measure(args: argparse.Namespace) -> dict[str, dict]:
    texts = page_texts(args.texts)
    scribe = Scribe(args.model)
    judge = InkReader.load(resolve_model(args.judge))
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "page.txt"
        page.write_text("\n".join(texts), encoding="utf-8")
        for candidates in args.candidates:
            times, references, readings = [], [], []
            for seed in args.seeds:
                if args.measure in ("time", "both"):
                    times.append(whole_process_seconds(page, candidates, seed, args.model))
                if args.measure in ("cer", "both"):
                    lines = scribe.write("\n".join(texts), seed=seed, candidates=candidates).lines
                    references += [line.text for line in lines]
                    readings += judge.read([line.offsets for line in lines])
            row: dict = {"median_s": statistics.median(times), "worst_s": max(times)} if times else {}
            if references:
                rates = error_rates(references, readings)
                classes = {name: [n, total] for name, (n, total) in rates.by_class().items() if total}
                row.update(cer=rates.cer, wer=rates.wer, misread_by_class=classes)
            results[str(candidates)] = row
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--judge", default=DEFAULT_RECOGNIZER, help="the recognizer that scores the ink")
    parser.add_argument("--texts", default=None, help="a text file or shipped set instead of the 20-line page")
    parser.add_argument("--candidates", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(1, 9)))
    parser.add_argument("--measure", choices=("time", "cer", "both"), default="both")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = measure(args)
    if args.json:
        print(json.dumps(results))
        return
    for candidates, row in results.items():
        shown = [f"--candidates {candidates}:"]
        if "median_s" in row:
            shown.append(f"median {row['median_s']:.2f} s, worst {row['worst_s']:.2f} s;")
        if "cer" in row:
            classes = ", ".join(f"{name} {100 * n / total:.1f}%" for name, (n, total) in row["misread_by_class"].items())
            shown.append(f"CER {row['cer']:.1f}%, WER {row['wer']:.1f}%; misread {classes}")
        print(" ".join(shown))


if __name__ == "__main__":
    main()
