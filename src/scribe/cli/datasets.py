"""``scribe download-data`` and ``scribe split``: the commands of the datasets room."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from scribe.cli.app import app, progress_bars, stderr
from scribe.errors import ScribeError


@app.command("download-data")
def download_data(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Dataset: deepwriting or iam-ondb.")],
    url: Annotated[
        Optional[list[str]], typer.Option("--url", metavar="URL", help="Download from URL instead (repeatable, e.g. a mirror).")
    ] = None,
    from_file: Annotated[
        Optional[list[Path]],
        typer.Option("--from-file", metavar="PATH", help="Import an archive you already downloaded (repeatable, no network)."),
    ] = None,
    sha256: Annotated[
        Optional[list[str]], typer.Option("--sha256", metavar="HEX", help="Expected SHA256 of each file, in order (repeatable).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Download and extract again even if present.")] = False,
) -> None:
    """Download a dataset into $SCRIBE_HOME/datasets/NAME and extract it.

    DeepWriting (ETH Zurich) is public. IAM-OnDB needs a free registration for
    non-commercial research: pass the URLs you were given with --url, or the
    archives lineStrokes-all.tar.gz and ascii-all.tar.gz with --from-file.
    Interrupted downloads resume where they stopped when you run the command again.
    """
    from scribe.datasets.download import download_dataset

    with progress_bars("bytes") as bars:
        report = download_dataset(
            name, urls=url, from_files=from_file, sha256=sha256, force=force, progress_factory=bars
        )
    for item in report.files:
        stderr.print(f"{item.action}: {item.path} ({item.bytes:,} bytes, sha256 {item.sha256[:16]}…)")
    stderr.print(f"raw files: {report.raw_dir} ({report.extracted} files)")
    stderr.print(f"next: scribe split {name}")


@app.command()
def split(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Dataset: deepwriting or iam-ondb.")],
    source: Annotated[
        Optional[Path],
        typer.Option(
            "--source",
            metavar="PATH",
            help="Raw data to read instead of $SCRIBE_HOME/datasets/NAME/raw: a DeepWriting .npz, "
            "an IAM-OnDB folder (lineStrokes + ascii, or their two .tar.gz) or an iam_ondb_lines.npz.",
        ),
    ] = None,
    out: Annotated[
        Optional[Path], typer.Option("--out", metavar="DIR", help="Output folder [default: $SCRIBE_HOME/datasets/NAME].")
    ] = None,
    simplify: Annotated[
        Optional[float],
        typer.Option(
            "--simplify",
            metavar="EPS",
            help="Ramer-Douglas-Peucker tolerance in tablet units (IAM-OnDB); 0 keeps every point. "
            "[default: see docs/data.md]",
        ),
    ] = None,
    train_extra: Annotated[
        Optional[list[str]],
        typer.Option("--train-extra", metavar="SPLIT", help="Official IAM-OnDB split (val1, val2, test) to add to training (repeatable)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="Seed of the writer-disjoint split used when no official split exists.")] = 0,
) -> None:
    """Turn raw files into one .npz per sample under train/, val/ and test/, with meta.json."""
    from scribe.datasets.split import DEFAULT_SIMPLIFY_EPS, split_dataset

    with progress_bars("items") as bars:
        report = split_dataset(
            name,
            source,
            out_dir=out,
            simplify_eps=DEFAULT_SIMPLIFY_EPS if simplify is None else simplify,
            train_extra=tuple(train_extra or ()),
            seed=seed,
            progress=bars(f"splitting {name}", None),
        )
    counts = ", ".join(f"{split_name} {n:,}" for split_name, n in report.counts.items())
    stderr.print(f"wrote {report.out_dir}: {counts} samples ({report.points_per_char:.1f} points per character)")
    for reason, n in sorted(report.skipped.items()):
        stderr.print(f"skipped {n:,}: {reason}")


def resolve_data_dir(data: Optional[Path]) -> Path:
    """``--data``, or the split dataset in the user data dir (IAM-OnDB first, then DeepWriting)."""
    from scribe.paths import dataset_dir

    if data is not None:
        return data
    for name in ("iam-ondb", "deepwriting"):
        if (dataset_dir(name) / "meta.json").is_file():
            return dataset_dir(name)
    raise ScribeError("no split dataset found in the data dir; run `scribe split NAME` first or pass --data DIR")


