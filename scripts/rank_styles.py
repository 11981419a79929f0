"""Rank a model's writer styles by legibility, to choose the built-in styles shipped with it.

For a VAE the "styles" are style seeds (default 1-20): the hands ``--style-seed`` writes.

Every style writes the same texts of a held-out split; the recognizer reads them back
and the styles are listed from the lowest character error rate up. The texts come
from the test split by default, so that choosing styles never sees the validation
texts that ``scribe legibility`` reports on. The model card
records how the shipped model's styles were chosen with this script:

    python scripts/rank_styles.py MODEL.pth --data DIR [--split test] [--texts 16] [--bias 0.75] [--seed 0]
        [--styles 1-113,200] [--extra real-world] [--extra-count 8]

``--extra`` adds texts from a file or shipped set (digits, capitals, symbols) to every
style's texts, so that a style is chosen for what users write, not only for prose.

then, after looking at the best ones, ``scribe export MODEL.pth OUT.npz --styles a,b,c,...``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from scribe.datasets.meta import dataset_lines
from scribe.ink.text import fit_to_alphabet
from scribe.writing.legibility import measure_legibility, text_set_path
from scribe.writing.network import load_inference_model
from scribe.writing.reader import InkReader
from scribe.writing.registry import DEFAULT_RECOGNIZER, resolve_model
from scribe.writing.sampling import Conditioning, SamplingOptions
from scribe.writing.styles import conditioning_for

VAE_STYLES = 20  # style seeds ranked by default


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--recognizer", default=DEFAULT_RECOGNIZER)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--split", default="test", help="split whose texts the styles write")
    parser.add_argument("--texts", type=int, default=16, help="texts each style writes")
    parser.add_argument("--bias", type=float, default=0.75)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--styles", default=None, help="styles to rank, e.g. 0-113,500 [default: all]")
    parser.add_argument("--extra", type=Path, default=None, help="a text file or shipped set added to the texts")
    parser.add_argument("--extra-count", type=int, default=8)
    args = parser.parse_args()

    model = load_inference_model(args.model)
    reader = InkReader.load(resolve_model(args.recognizer))
    texts, _ = dataset_lines(args.data, args.texts, args.seed, args.split)
    if args.extra is not None:
        extra = text_set_path(args.extra).read_text(encoding="utf-8").splitlines()
        texts += [fit_to_alphabet(line, model.alphabet)[0] for line in extra if line.strip()][: args.extra_count]
    scores = []
    count = VAE_STYLES if model.is_vae else len(model.styles)
    for style in style_list(args.styles, count, first=1 if model.is_vae else 0):
        hand = conditioning_for(model, style_seed=style) if model.is_vae else Conditioning(style_id=style)
        options = SamplingOptions(bias=args.bias, conditioning=hand)
        report = measure_legibility(model, reader, texts, options, seed=args.seed)
        scores.append((report.generated_cer, report.completion_rate, style))
        classes = ", ".join(f"{name} {100 * n / total:.0f}%" for name, (n, total) in report.by_class.items() if total)
        print(f"style {style:3d}: CER {report.generated_cer:5.1f}%, completion {report.completion_rate:5.1f}%; "
              f"misread {classes}", flush=True)
    print("best first:", ",".join(str(style) for _, _, style in sorted(scores)))


def style_list(spec: str | None, count: int, first: int = 0) -> list[int]:
    """``0-3,7`` -> [0, 1, 2, 3, 7]; None -> every style (``count`` of them from ``first``)."""
    if spec is None:
        return list(range(first, first + count))
    styles: list[int] = []
    for part in spec.split(","):
        low, _, high = part.partition("-")
        styles += range(int(low), int(high or low) + 1)
    return styles if first else [style for style in styles if style < count]


if __name__ == "__main__":
    main()
