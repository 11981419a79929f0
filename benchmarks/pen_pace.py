"""Measure a human pen's pace on IAM-OnDB, the figures behind the animations' timing (scribe.writing.animation).

IAM-OnDB keeps a time stamp (1/100 s) with every pen point. After the same RDP
simplification as the training data (``--simplify 3.5``), each pen-down segment's
duration is fitted against its length, and each lift within a line against the jump,
both in x-heights of the line (so the figures hold at any size on the page). Then
the fitted model is checked the other way round: the writing time it predicts for
each line against the line's real duration.

    python benchmarks/pen_pace.py [--lines 600]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from scribe.ink.metrics import line_metrics
from scribe.ink.strokes import _rdp_keep, points_to_offsets  # the simplification training uses, keeping times
from scribe.writing import animation

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "iam_ondb_lines.npz"
EPS = 3.5  # scribe split's default --simplify


def simplified_lines(count: int):
    """(points, times in s, x-height) of the first ``count`` usable training lines, simplified."""
    data = np.load(DATA)
    points, times, starts = data["points"], data["times_cs"], data["line_offsets"]
    usable = np.flatnonzero((data["split"] == "train") & ~data["blacklisted"])
    for line in usable:
        xy = points[starts[line] : starts[line + 1]].astype(np.float64)
        clock = times[starts[line] : starts[line + 1]] / 100.0
        if np.any(np.diff(clock) < 0):
            continue  # time stamps that go backwards
        ends = xy[:, 2] != 0
        ends[-1] = True
        keep = _rdp_keep(xy[:, :2], ends, EPS)
        kept = xy[keep]
        kept[-1, 2] = 1
        x_height = line_metrics(points_to_offsets(kept.astype(np.float32))).x_height
        if x_height > 0:
            yield kept, clock[keep], x_height
        count -= 1
        if count == 0:
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=600)
    args = parser.parse_args()
    lengths, durations, jumps, lifts, predicted, real = [], [], [], [], [], []
    for points, clock, x_height in simplified_lines(args.lines):
        step = np.hypot(*np.diff(points[:, :2], axis=0).T) / x_height
        took = np.diff(clock)
        lifted = points[:-1, 2] != 0
        lengths.extend(step[~lifted])
        durations.extend(took[~lifted])
        jumps.extend(step[lifted])
        lifts.extend(took[lifted])
        model = (animation.SEGMENT_TIME + animation.SEGMENT_TIME_PER_X_HEIGHT * step[~lifted]).sum()
        model += (animation.LIFT_TIME + animation.LIFT_TIME_PER_X_HEIGHT * step[lifted]).sum()
        predicted.append(model)
        real.append(clock[-1] - clock[0])
    lengths, durations, jumps, lifts = map(np.array, (lengths, durations, jumps, lifts))
    fit = np.linalg.lstsq(np.column_stack([np.ones_like(lengths), lengths]), durations, rcond=None)[0]
    print(f"{len(real)} lines, {len(lengths):,} pen-down segments, {len(jumps):,} lifts within lines")
    print(f"pen-down segment: {fit[0]:.4f} s + {fit[1]:.4f} s per x-height (least squares)")
    for low, high in ((0, 0.5), (0.5, 1), (1, 2), (2, 4), (4, 10)):
        chosen = (jumps >= low) & (jumps < high)
        model = animation.LIFT_TIME + animation.LIFT_TIME_PER_X_HEIGHT * (low + high) / 2
        print(f"lift of {low:g}-{high:g} x-heights: median {np.median(lifts[chosen]):.3f} s "
              f"(n={chosen.sum():,}; the model at the middle {model:.3f} s)")
    ratio = np.array(predicted) / np.array(real)
    print(f"modelled / real writing time per line: median {np.median(ratio):.2f}, "
          f"quartiles {np.percentile(ratio, 25):.2f}-{np.percentile(ratio, 75):.2f}")


if __name__ == "__main__":
    main()
