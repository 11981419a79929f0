"""Writing speed: seconds for a 20-line page on the CPU with the default (shipped) model.

    python benchmarks/write_speed.py                  # the shipped model, 3 repeats
    python benchmarks/write_speed.py --model run/best.pth --repeats 5

Three figures, each the best of ``--repeats`` runs:

- whole process: ``scribe write --input page.txt -o page.png`` as a user runs it
  (interpreter start, imports, model loading, sampling, layout, PNG);
- in process: ``Scribe.write`` on an already loaded model, all 20 lines in one batch;
- one line at a time: the same 20 lines sampled one per batch, per line and in total,
  to show what batching buys.

Target (issue 4/5): a 20-line page in under 2 seconds whole-process on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from scribe.writing.document import Scribe
from scribe.writing.registry import DEFAULT_MODEL
from scribe.writing.sampling import DEFAULT_BIAS, SamplingOptions, write_lines

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


def best_of(repeats: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    text = "\n".join(PAGE)
    scribe = Scribe(args.model)
    lines = scribe.write(text).lines
    assert len(lines) == len(PAGE), f"the page wrapped into {len(lines)} lines, not {len(PAGE)}"
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "page.txt"
        page.write_text(text, encoding="utf-8")
        output = str(Path(folder) / "page.png")
        command = [sys.executable, "-m", "scribe", "write", "--input", str(page), "-o", output, "--model", args.model]
        whole = best_of(args.repeats, lambda: subprocess.run(command, check=True, capture_output=True))
    in_process = best_of(args.repeats, lambda: scribe.write(text))
    options = SamplingOptions(bias=DEFAULT_BIAS, conditioning=scribe.conditioning())
    one_by_one = best_of(
        args.repeats, lambda: [write_lines(scribe.model, [line], options) for line in PAGE]
    )
    print(json.dumps({
        "model": args.model,
        "lines": len(PAGE),
        "points_written": int(sum(line.steps for line in lines)),
        "whole_process_s": round(whole, 3),
        "in_process_s": round(in_process, 3),
        "one_line_at_a_time_s": round(one_by_one, 3),
        "one_line_at_a_time_per_line_s": round(one_by_one / len(PAGE), 3),
        "target_whole_process_s": 2.0,
    }, indent=2))


if __name__ == "__main__":
    main()
