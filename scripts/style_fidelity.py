"""Style fidelity: does ink written in the style of a sample look like the sample's writer?

    python scripts/style_fidelity.py --data DIR [--model NAME|PATH ...] [--writers 20] [--seed 0]

Held-out writers (the test split of ``--data``, a split IAM-OnDB folder) are told
apart by a small identifier trained on their own real lines (:class:`WriterIdentifier`,
``--train-lines`` per writer). Then each writer's "style line" (one more real line)
conditions every ``--model``: a VAE encodes it into z, a Graves writer is primed with
it; each writes ``--test-lines`` other texts of that writer. A model that keeps the
style has its lines put down to the right writer: top-1 and top-5 among ``--writers``,
beside the same for the writers' own held-out real lines (the ceiling) and for each
model's default hand (near chance, 1 in ``--writers``). All ink is thinned to the
split's tolerance first, so that point density tells nothing.

It also prints how far hands differ: the spread (standard deviation) across hands of
each hand's median slant and width per character, for the real writers and for each
model's built-in styles (a VAE: ``--writers`` style seeds), each writing the same texts.
"""

from __future__ import annotations

import argparse
import glob
from collections import defaultdict
from pathlib import Path

import numpy as np

from scribe.ink.strokes import simplify_offsets
from scribe.ink.style import FEATURE_NAMES, WriterIdentifier, style_features
from scribe.writing.document import Scribe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", action="append", default=[])
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--train-lines", type=int, default=12)
    parser.add_argument("--test-lines", type=int, default=3)
    parser.add_argument("--eps", type=float, default=10.0, help="the tolerance all ink is thinned to")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    by_writer = defaultdict(list)
    for path in sorted(glob.glob(str(args.data / "test" / "*.npz"))):
        sample = np.load(path)
        by_writer[int(sample["writer"])].append((sample["offsets"], str(sample["text"])))
    needed = args.train_lines + 1 + args.test_lines
    writers = [w for w in sorted(by_writer) if len(by_writer[w]) >= needed]
    writers = sorted(rng.choice(writers, args.writers, replace=False).tolist())
    chosen = {w: [by_writer[w][i] for i in rng.choice(len(by_writer[w]), needed, replace=False)] for w in writers}
    train = [(w, line) for w in writers for line in chosen[w][: args.train_lines]]
    identifier = WriterIdentifier.fit(np.array([features(o, t, args.eps) for _, (o, t) in train]), [w for w, _ in train])
    tests = {w: chosen[w][args.train_lines + 1 :] for w in writers}
    real = {w: [features(o, t, args.eps) for o, t in tests[w]] for w in writers}
    report("real ink (ceiling)", identifier, real)
    spread("real writers", real)
    for name in args.model:
        scribe = Scribe(name)
        for how in ("its style line", "its default hand"):
            inks = {}
            for number, w in enumerate(writers):
                style_line = chosen[w][args.train_lines]
                prime = style_line if how == "its style line" else None
                texts = "\n".join(text for _, text in tests[w])
                lines = scribe.write(texts, prime=prime, seed=args.seed + number, reflow=False).lines
                inks[w] = [features(line.offsets, line.text, args.eps) for line in lines]
            report(f"{name}, {how}", identifier, inks)
        texts = "\n".join(text for _, text in tests[writers[0]])
        hands = [{"style_seed": k} for k in range(1, args.writers + 1)] if scribe.model.is_vae else \
            [{"style": k} for k in range(len(scribe.styles))]
        spread(f"{name}'s {len(hands)} hands", {k: [features(line.offsets, line.text, args.eps) for line in
                                              scribe.write(texts, seed=args.seed, reflow=False, **hand).lines]
                                              for k, hand in enumerate(hands)})


def features(offsets: np.ndarray, text: str, eps: float) -> np.ndarray:
    return style_features(simplify_offsets(offsets, eps), text)


def spread(what: str, inks: dict[int, list[np.ndarray]]) -> None:
    """The spread across hands of their median slant (degrees) and width per character (x-heights)."""
    medians = np.array([np.median(rows, axis=0) for rows in inks.values()])
    slant, width = (medians[:, FEATURE_NAMES.index(name)] for name in ("slant", "width per character"))
    print(f"{what}: slant {np.rad2deg(slant).mean():.1f} +- {np.rad2deg(slant).std():.1f} degrees, "
          f"width {width.mean():.2f} +- {width.std():.2f} x-heights per character", flush=True)


def report(what: str, identifier: WriterIdentifier, inks: dict[int, list[np.ndarray]]) -> None:
    ranks = [int(np.flatnonzero(identifier.ranked(row[None])[0] == w)[0]) for w, rows in inks.items() for row in rows]
    top1, top5 = (100 * np.mean(np.array(ranks) < k) for k in (1, 5))
    print(f"{what}: top-1 {top1:.0f}%, top-5 {top5:.0f}% of {len(ranks)} lines, {len(inks)} writers", flush=True)


if __name__ == "__main__":
    main()
