"""The ``scribe`` command: parses arguments, calls the library, prints the results.

Messages and progress bars go to stderr; stdout is kept for data. A
:class:`~scribe.errors.ScribeError` becomes one ``error: ...`` line and exit status 1.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from scribe import __version__
from scribe.errors import ScribeError
from scribe.progress import ProgressFn

if TYPE_CHECKING:
    from scribe.eval import EvalResult
    from scribe.train import TrainEvent, TrainOptions

app = typer.Typer(
    name="scribe",
    help="Turn text into realistic, human-like handwriting, and train the models that write it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)

LOG_EVERY = 50  # training steps between status lines when stderr is not a terminal
ProgressFactory = Callable[[str, Optional[int]], ProgressFn]


def _version(value: bool) -> None:
    if value:
        print(f"scribe {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Turn text into realistic, human-like handwriting, and train the models that write it.

    Data lives in $SCRIBE_HOME (default: your platform's user data folder for scribe).
    """


@contextmanager
def _progress_bars(unit: str) -> Iterator[ProgressFactory]:
    """Yield a factory of progress callbacks, one rich bar each, drawn on stderr.

    ``unit`` is ``"bytes"`` (size, speed and ETA columns) or ``"items"`` (n/total).
    """
    columns: list[ProgressColumn] = [TextColumn("{task.description}"), BarColumn()]
    if unit == "bytes":
        columns += [DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn()]
    else:
        columns += [MofNCompleteColumn(), TimeRemainingColumn()]
    # Started on the first bar and transient, so an error before or during the work
    # leaves only its one error line on stderr.
    progress = Progress(*columns, console=stderr, transient=True, disable=not stderr.is_terminal)

    def factory(description: str, total: Optional[int]) -> ProgressFn:
        progress.start()
        task = progress.add_task(description, total=total)

        def update(completed: int, new_total: Optional[int]) -> None:
            progress.update(task, completed=completed, total=new_total)

        return update

    try:
        yield factory
    finally:
        if progress.live.is_started:
            progress.stop()


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
    from scribe.download import download_dataset

    with _progress_bars("bytes") as bars:
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
    from scribe.split import DEFAULT_SIMPLIFY_EPS, split_dataset

    with _progress_bars("items") as bars:
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


def _resolve_data_dir(data: Optional[Path]) -> Path:
    """``--data``, or the split dataset in the user data dir (IAM-OnDB first, then DeepWriting)."""
    from scribe.paths import dataset_dir

    if data is not None:
        return data
    for name in ("iam-ondb", "deepwriting"):
        if (dataset_dir(name) / "meta.json").is_file():
            return dataset_dir(name)
    raise ScribeError("no split dataset found in the data dir; run `scribe split NAME` first or pass --data DIR")


def _train_options(config: Optional[Path], given: dict) -> TrainOptions:
    """Defaults, then the TOML preset, then the flags given on the command line."""
    from scribe.train import TrainOptions, option_names, read_preset

    values = read_preset(config) if config is not None else {}
    values.update({k: v for k, v in given.items() if v is not None})
    unknown = set(values) - option_names()
    if unknown:
        raise ScribeError(f"unknown training option(s) {', '.join(sorted(unknown))} in {config}")
    if values.setdefault("model", "graves") not in ("graves", "vae"):
        raise ScribeError(f"unknown model {values['model']!r}; choose graves or vae")
    values["data_dir"] = _resolve_data_dir(values.get("data_dir"))
    values.setdefault("out_dir", Path("runs") / values["model"])
    return TrainOptions(**values)


def _draw_training(progress: Progress) -> Callable[[TrainEvent], None]:
    """Turn training events into a progress bar with loss, speed and ETA, and eval lines."""
    task = progress.add_task("training", total=None, loss="")

    def on_event(event: TrainEvent) -> None:
        if event.kind == "start":
            progress.update(task, total=event.total_steps, completed=event.step)
        elif event.kind == "step":
            status = f"loss {event.loss:.3f}, {event.steps_per_second:.2f} steps/s"
            progress.update(task, completed=event.step, loss=status)
            if not stderr.is_terminal and event.step % LOG_EVERY == 0:  # a log file gets plain lines
                progress.console.print(f"step {event.step}/{event.total_steps}: {status}")
        elif event.kind == "eval":
            m = event.metrics
            progress.console.print(
                f"step {event.step}: val nll {m['nll']:.1f} nats/seq ({m['nll_per_point']:.3f}/point), "
                f"pen-lift {m['pen_lift_accuracy']:.1f}%, alignment error {m['alignment_error']:.3f}"
                + (f", kl {m['kl']:.2f}" if "kl" in m else "")
            )
        elif event.kind == "skip":
            progress.console.print(f"warning: {event.message}")

    return on_event


@app.command(name="train")
def train_command(
    model: Annotated[Optional[str], typer.Option("--model", metavar="KIND", help="graves or vae. [default: graves]")] = None,
    data: Annotated[Optional[Path], typer.Option("--data", metavar="DIR", help="Split dataset. [default: the one in the data dir]")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", metavar="DIR", help="Checkpoints and metrics. [default: runs/KIND]")] = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs", metavar="N", help="Passes over the training data. [default: 30]")] = None,
    max_steps: Annotated[Optional[int], typer.Option("--max-steps", metavar="N", help="Stop after N optimizer steps (instead of --epochs).")] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", metavar="N", help="Lines per batch. [default: 32]")] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", metavar="RATE", help="Adam learning rate. [default: 0.001]")] = None,
    hidden: Annotated[Optional[int], typer.Option("--hidden", metavar="N", help="LSTM size of the decoder. [default: 400]")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", metavar="FILE", help="TOML preset of training options.")] = None,
    device: Annotated[Optional[str], typer.Option("--device", metavar="DEVICE", help="auto, cpu or cuda. [default: auto]")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", metavar="N", help="Seed of initialization and data order. [default: 0]")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from OUT/last.pth exactly where it stopped.")] = False,
    init_from: Annotated[Optional[Path], typer.Option("--init-from", metavar="PATH", help="Start from the weights of this checkpoint (fine-tuning).")] = None,
) -> None:
    """Train the Graves MDN-LSTM or the VAE on a split dataset.

    Writes OUT/best.pth (lowest validation NLL), OUT/last.pth (resumable) and
    OUT/metrics.jsonl. Under torchrun the same command trains with
    DistributedDataParallel (NCCL on GPUs, gloo on CPUs).
    """
    from scribe.train import train

    given = dict(
        model=model, epochs=epochs, max_steps=max_steps, batch_size=batch_size, lr=lr,
        hidden=hidden, device=device, seed=seed, resume=resume or None,
        data_dir=data, out_dir=out, init_from=init_from,
    )
    options = _train_options(config, given)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[loss]}"), TimeRemainingColumn()]
    is_main = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 reports
    with Progress(*columns, console=stderr, disable=not (is_main and stderr.is_terminal), transient=True) as progress:
        state = train(options, _draw_training(progress))
    if is_main:
        stderr.print(f"done at step {state.step}: best validation nll {state.best_val:.1f} nats/seq; {options.out_dir / 'best.pth'}")


@app.command("eval")
def evaluate_command(
    model: Annotated[Path, typer.Option("--model", metavar="PATH", help="A scribe checkpoint (.pth).")],
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", metavar="DIR", help="Split dataset. [default: the one in the data dir]")] = None,
    split_name: Annotated[str, typer.Option("--split", metavar="SPLIT", help="val or test.")] = "val",
    batch_size: Annotated[int, typer.Option("--batch-size", metavar="N")] = 32,
    per_batch: Annotated[bool, typer.Option("--per-batch", help="Print the figures of every batch.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    device: Annotated[str, typer.Option("--device", metavar="DEVICE", help="auto, cpu or cuda.")] = "auto",
) -> None:
    """Teacher-forced evaluation: pen-lift accuracy, NLL per point and per sequence, KL (VAE)."""
    import json

    from scribe.checkpoint import load_model
    from scribe.data import StrokeDataset
    from scribe.eval import evaluate
    from scribe.train import pick_device

    torch_device = pick_device(device)
    loaded = load_model(model, torch_device)
    dataset = StrokeDataset(
        _resolve_data_dir(data_dir), split_name, alphabet=loaded.alphabet, stats=(loaded.mean, loaded.std)
    )

    def show_batch(number: int, result: EvalResult) -> None:
        print(_format_result(result, prefix=f"batch {number + 1}: "), flush=True)

    result = evaluate(loaded.model, dataset, batch_size=batch_size, device=torch_device,
                      on_batch=show_batch if per_batch else None)
    print(json.dumps(result.to_dict()) if as_json else _format_result(result))


def _format_result(result: EvalResult, prefix: str = "") -> str:
    text = (
        f"{prefix}pen-lift accuracy {result.pen_lift_accuracy:.2f}%, "
        f"nll {result.nll:.2f} nats per sequence ({result.nll_per_point:.4f} per point), "
        f"alignment error {result.alignment_error:.3f}"
    )
    if result.kl is not None:
        text += f", kl {result.kl:.2f} nats"
    return text + f" [{result.sequences} sequences, {result.points} points]"


_LATER = {"allow_extra_args": True, "ignore_unknown_options": True}


@app.command(context_settings=_LATER)
def write() -> None:
    """Write text as handwriting to SVG, PNG or PDF."""
    raise ScribeError(f"`scribe write` is not available in scribe {__version__} yet; it arrives in a later release")


def main() -> None:
    """Entry point of the ``scribe`` console script."""
    try:
        app()
    except ScribeError as exc:
        stderr.print(f"error: {exc}", markup=False, soft_wrap=True)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        stderr.print("interrupted", markup=False)
        raise SystemExit(130) from None
