"""``scribe download-data``, ``scribe split`` and ``scribe compose-lines``: the commands of the datasets room.

Which datasets exist, what they accept and which is used by default all come
from the table :data:`scribe.datasets.DATASETS`, so no dataset is named here.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Annotated

import typer

from scribe.cli.core import app, cli_terms, progress_bars, stderr
from scribe.datasets import DATASETS, accepted_sources, dataset_names
from scribe.ink.strokes import DEFAULT_SIMPLIFY_EPS


def _one_of(names: list[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    return " or ".join(filter(None, [", ".join(names[:-1]), names[-1]]))


NAME_HELP = f"Dataset: {_one_of(dataset_names())}."


def _download_help() -> str:
    """The command's help: what it does, then each dataset's files and whether it needs a registration.

    The notes are wrapped here and marked ``\\b`` (click's "keep as is"): click
    would break their URLs at hyphens.
    """
    notes = [
        f"{name} ({', '.join(s.filename for s in DATASETS[name].sources)}): "
        f"{cli_terms(DATASETS[name].registration or 'public')}."
        for name in dataset_names()
    ]
    notes = ["\b\n" + textwrap.fill(note, 78, break_long_words=False, break_on_hyphens=False) for note in notes]
    return "\n\n".join(
        [
            "Download a dataset into $SCRIBE_HOME/datasets/NAME and extract it.",
            *notes,
            "Interrupted downloads resume where they stopped when you run the command again.",
        ]
    )


def _reader_option_help(option: str) -> str:
    """Help for a dataset reader's own option, from the datasets that have it."""
    return " ".join(f"{spec.name}: {spec.option_help[option]}." for spec in DATASETS.values() if option in spec.option_help)


def _train_extra_help() -> str:
    """The official splits each dataset could move to training (those that are not training already)."""
    extras = [
        f"{name} {', '.join(s for s, ours in DATASETS[name].official_splits.items() if ours != 'train')}"
        for name in dataset_names()
        if DATASETS[name].official_splits
    ]
    return f"Official split to add to training (repeatable): {'; '.join(extras)}."


@app.command("download-data", help=_download_help())
def download_data(
    name: Annotated[str, typer.Argument(metavar="NAME", help=NAME_HELP)],
    url: Annotated[
        list[str] | None, typer.Option("--url", metavar="URL", help="Download from URL instead (repeatable, e.g. a mirror).")
    ] = None,
    from_file: Annotated[
        list[Path] | None,
        typer.Option("--from-file", metavar="PATH", help="Import an archive you already downloaded, or the folder of an unpacked copy (repeatable, no network)."),
    ] = None,
    sha256: Annotated[
        list[str] | None, typer.Option("--sha256", metavar="HEX", help="Expected SHA256 of each file, in order (repeatable).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Download and extract again even if present.")] = False,
) -> None:
    from scribe.datasets.download import download_dataset

    with progress_bars("bytes") as bars:
        report = download_dataset(
            name, urls=url, from_files=from_file, sha256=sha256, force=force, progress_factory=bars
        )
    for item in report.files:
        digest = f", sha256 {item.sha256[:16]}…" if item.sha256 else ""
        stderr.print(f"{item.action}: {item.path} ({item.bytes:,} bytes{digest})")
    stderr.print(f"raw files: {report.raw_dir} ({report.extracted} files)")
    stderr.print(f"next: scribe split {name}")


@app.command()
def split(
    name: Annotated[str, typer.Argument(metavar="NAME", help=NAME_HELP)],
    source: Annotated[
        Path | None,
        typer.Option(
            "--source",
            metavar="PATH",
            help=f"Raw data to read instead of $SCRIBE_HOME/datasets/NAME/raw: {accepted_sources()}.",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", metavar="DIR", help="Output folder [default: $SCRIBE_HOME/datasets/NAME].")
    ] = None,
    simplify: Annotated[
        float,
        typer.Option(
            "--simplify",
            metavar="EPS",
            help="Ramer-Douglas-Peucker tolerance in the dataset's units, for datasets recorded as pen points; "
            "0 keeps every point (docs/data.md).",
        ),
    ] = DEFAULT_SIMPLIFY_EPS,
    train_extra: Annotated[
        list[str] | None,
        typer.Option("--train-extra", metavar="SPLIT", help=_train_extra_help()),
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", metavar="N", min=0, help="Seed of the writer-disjoint split used when no official split exists.")
    ] = 0,
    force: Annotated[bool, typer.Option("--force", help="Replace train/, val/, test/ folders that scribe did not write.")] = False,
    categories: Annotated[
        str | None, typer.Option("--categories", metavar="LIST", help=_reader_option_help("categories"))
    ] = None,
    keep_bad: Annotated[bool, typer.Option("--keep-bad", help=_reader_option_help("keep_bad"))] = False,
) -> None:
    """Turn raw files into one .npz per sample under train/, val/ and test/, with meta.json."""
    from scribe.datasets.split import split_dataset

    options = {"categories": [c.strip() for c in categories.split(",") if c.strip()] if categories else None, "keep_bad": keep_bad}

    with progress_bars("items") as bars:
        report = split_dataset(
            name,
            source,
            out_dir=out,
            simplify_eps=simplify,
            train_extra=tuple(train_extra or ()),
            seed=seed,
            force=force,
            options=options,
            progress=bars(f"splitting {name}", None),
        )
    counts = ", ".join(f"{split_name} {n:,}" for split_name, n in report.counts.items())
    stderr.print(f"wrote {report.out_dir}: {counts} samples ({report.points_per_char:.1f} points per character)")
    for reason, n in sorted(report.skipped.items()):
        stderr.print(f"skipped {n:,}: {reason}")
    for tag, counts_by_value in report.breakdown.items():
        listed = ", ".join(f"{value} {n:,}" for value, n in counts_by_value.items())
        stderr.print(f"by {tag}: {listed}")
    for note in report.notes:
        stderr.print(f"note: {note}")


@app.command("compose-lines")
def compose_lines(
    source: Annotated[
        Path, typer.Argument(metavar="UNIPEN_SPLIT", help="A folder written by `scribe split unipen`, or its name under $SCRIBE_HOME/datasets.")
    ],
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Output folder for the composed lines.")],
    lines: Annotated[
        int, typer.Option("--lines", metavar="N", min=1, help="Training lines to compose; val and test get a tenth as many each.")
    ] = 30_000,
    seed: Annotated[int, typer.Option("--seed", metavar="N", min=0, help="Seed of the texts, hands and spacing.")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Replace train/, val/, test/ folders that scribe did not write.")] = False,
) -> None:
    """Set one UNIPEN writer's isolated characters side by side into lines with digits, capitals and symbols."""
    from scribe.datasets import split_dataset_dir
    from scribe.datasets.composed import compose_lines as compose

    with progress_bars("items") as bars:
        report = compose(split_dataset_dir(source), out, lines, seed=seed, force=force, progress=bars("composing lines", None))
    counts = ", ".join(f"{split_name} {n:,}" for split_name, n in report.counts.items())
    hands = ", ".join(f"{split_name} {n:,}" for split_name, n in report.hands.items())
    stderr.print(f"wrote {report.out_dir}: {counts} lines from the hands of {hands} writers")
    stderr.print(f"{report.borrowed:.1%} of characters borrowed from another writer of the same source")
