"""The ``scribe`` command: parses arguments, calls the library, prints the results.

Messages and progress bars go to stderr; stdout is kept for data. A
:class:`~scribe.errors.ScribeError` becomes one ``error: ...`` line and exit status 1.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, Optional

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
from scribe.writing.sampling import DEFAULT_BIAS
from scribe.writing.registry import DEFAULT_MODEL, DEFAULT_RECOGNIZER
from scribe.progress import ProgressFn

if TYPE_CHECKING:
    from scribe.writing.document import Document, Scribe
    from scribe.training.evaluation import EvalResult
    from scribe.training.legibility import LegibilityReport
    from scribe.writing.render import PageSetup
    from scribe.training.trainer import TrainEvent, TrainOptions

app = typer.Typer(
    name="scribe",
    help="Turn text into realistic, human-like handwriting, and train the models that write it.",
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)

LOG_EVERY = 50  # training steps between status lines when stderr is not a terminal
PROGRESS_MIN_LINES = 3  # `scribe write` draws a progress bar for documents of more lines
ProgressFactory = Callable[[str, Optional[int]], ProgressFn]


def _version(value: bool) -> None:
    if value:
        print(f"scribe {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def _root(
    context: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Turn text into realistic, human-like handwriting, and train the models that write it.

    Data lives in $SCRIBE_HOME (default: your platform's user data folder for scribe).
    """
    if context.invoked_subcommand is None:  # plain `scribe`: show what it can do
        print(context.get_help())
        raise typer.Exit()


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
    from scribe.datasets.download import download_dataset

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
    from scribe.datasets.split import DEFAULT_SIMPLIFY_EPS, split_dataset

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
    from scribe.training.trainer import TrainOptions, option_names, read_preset

    values = read_preset(config) if config is not None else {}
    values.update({k: v for k, v in given.items() if v is not None})
    unknown = set(values) - option_names()
    if unknown:
        raise ScribeError(f"unknown training option(s) {', '.join(sorted(unknown))} in {config}")
    from scribe.training.trainer import MODEL_KINDS

    if values.setdefault("model", "graves") not in MODEL_KINDS:
        raise ScribeError(f"unknown model {values['model']!r}; choose {', '.join(MODEL_KINDS)}")
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
        elif event.kind == "eval" and "cer" in event.metrics:
            m = event.metrics
            progress.console.print(
                f"step {event.step}: val CER {m['cer']:.1f}%, WER {m['wer']:.1f}%, ctc {m['ctc_per_char']:.3f}/char"
            )
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
    model: Annotated[Optional[str], typer.Option("--model", metavar="KIND", help="graves, vae or recognizer. [default: graves]")] = None,
    data: Annotated[Optional[Path], typer.Option("--data", metavar="DIR", help="Split dataset. [default: the one in the data dir]")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", metavar="DIR", help="Checkpoints and metrics. [default: runs/KIND]")] = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs", metavar="N", help="Passes over the training data. [default: 30]")] = None,
    max_steps: Annotated[Optional[int], typer.Option("--max-steps", metavar="N", help="Stop after N optimizer steps (instead of --epochs).")] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", metavar="N", help="Lines per batch. [default: 32]")] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", metavar="RATE", help="Adam learning rate. [default: 0.001]")] = None,
    hidden: Annotated[Optional[int], typer.Option("--hidden", metavar="N", help="LSTM size. [default: 400; recognizer 192]")] = None,
    layers: Annotated[Optional[int], typer.Option("--layers", metavar="N", help="LSTM layers. [default: 3; recognizer 2]")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", metavar="FILE", help="TOML preset of training options.")] = None,
    device: Annotated[Optional[str], typer.Option("--device", metavar="DEVICE", help="auto, cpu or cuda. [default: auto]")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", metavar="N", help="Seed of initialization and data order. [default: 0]")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from OUT/last.pth exactly where it stopped.")] = False,
    init_from: Annotated[Optional[Path], typer.Option("--init-from", metavar="PATH", help="Start from the weights of this checkpoint (fine-tuning).")] = None,
) -> None:
    """Train the Graves MDN-LSTM, the VAE or the handwriting recognizer on a split dataset.

    Writes OUT/best.pth (lowest validation NLL; for the recognizer, lowest character
    error rate), OUT/last.pth (resumable) and
    OUT/metrics.jsonl. Under torchrun the same command trains with
    DistributedDataParallel (NCCL on GPUs, gloo on CPUs).
    """
    from scribe.training.trainer import train

    given = dict(
        model=model, epochs=epochs, max_steps=max_steps, batch_size=batch_size, lr=lr,
        hidden=hidden, layers=layers, device=device, seed=seed, resume=resume or None,
        data_dir=data, out_dir=out, init_from=init_from,
    )
    options = _train_options(config, given)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[loss]}"), TimeRemainingColumn()]
    is_main = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 reports
    with Progress(*columns, console=stderr, disable=not (is_main and stderr.is_terminal), transient=True) as progress:
        state = train(options, _draw_training(progress))
    if is_main:
        best = f"CER {state.best_val:.1f}%" if options.model == "recognizer" else f"nll {state.best_val:.1f} nats/seq"
        stderr.print(f"done at step {state.step}: best validation {best}; {options.out_dir / 'best.pth'}")


@app.command("eval")
def evaluate_command(
    model: Annotated[str, typer.Option("--model", metavar="NAME|PATH", help="Registered model name, model file (.npz) or checkpoint (.pth).")] = DEFAULT_MODEL,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", metavar="DIR", help="Split dataset. [default: the one in the data dir]")] = None,
    split_name: Annotated[str, typer.Option("--split", metavar="SPLIT", help="val or test.")] = "val",
    batch_size: Annotated[int, typer.Option("--batch-size", metavar="N")] = 32,
    per_batch: Annotated[bool, typer.Option("--per-batch", help="Print the figures of every batch.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    device: Annotated[str, typer.Option("--device", metavar="DEVICE", help="auto, cpu or cuda.")] = "auto",
    legibility: Annotated[bool, typer.Option("--legibility", help="Write texts with the model and read them back with the recognizer (CER, WER, completion).")] = False,
    recognizer: Annotated[str, typer.Option("--recognizer", metavar="NAME|PATH", help="With --legibility: the recognizer that reads the ink.")] = DEFAULT_RECOGNIZER,
    texts: Annotated[Optional[Path], typer.Option("--texts", metavar="FILE", help="With --legibility: one text per line to write. [default: texts of the --split]")] = None,
    count: Annotated[int, typer.Option("-n", metavar="N", help="With --legibility: how many texts (drawn at random with --seed).")] = 100,
    bias: Annotated[float, typer.Option("--bias", metavar="B", help="With --legibility: sampling bias.")] = DEFAULT_BIAS,
    style: Annotated[Optional[int], typer.Option("--style", metavar="N", help="With --legibility: built-in style. [default: the model's default]")] = None,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="With --legibility: seed of text choice and sampling.")] = 0,
    per_line: Annotated[bool, typer.Option("--per-line", help="With --legibility: print every text and what was read.")] = False,
) -> None:
    """Evaluate a model on a split dataset.

    A handwriting model: teacher-forced NLL per point and per sequence, pen-lift
    accuracy, attention alignment, KL (VAE). A recognizer: its character and word
    error rates. With --legibility: write texts with the model, read them back with
    the recognizer, and compare with the real ink of the same texts (docs/legibility.md).
    """
    if legibility:
        _evaluate_legibility(model, recognizer, data_dir, split_name, texts, count, bias, style, seed, as_json, per_line)
        return
    import json

    from scribe.training.checkpoint import load_model
    from scribe.training.data import StrokeDataset
    from scribe.training.evaluation import evaluate, evaluate_recognizer
    from scribe.writing.registry import resolve_model
    from scribe.training.trainer import pick_device

    torch_device = pick_device(device)
    loaded = load_model(resolve_model(model), torch_device)
    dataset = StrokeDataset(
        _resolve_data_dir(data_dir), split_name, alphabet=loaded.alphabet, stats=(loaded.mean, loaded.std)
    )
    if loaded.checkpoint["kind"] == "recognizer":
        rates = evaluate_recognizer(loaded.model, dataset, batch_size=batch_size, device=torch_device)
        print(json.dumps(rates.to_dict()) if as_json else
              f"CER {rates.cer:.2f}%, WER {rates.wer:.2f}%, ctc {rates.ctc_per_char:.3f} nats/char [{rates.sequences} lines]")
        return

    def show_batch(number: int, result: EvalResult) -> None:
        print(_format_result(result, prefix=f"batch {number + 1}: "), flush=True)

    result = evaluate(loaded.model, dataset, batch_size=batch_size, device=torch_device,
                      on_batch=show_batch if per_batch else None)
    print(json.dumps(result.to_dict()) if as_json else _format_result(result))


def _evaluate_legibility(
    model: str, recognizer: str, data_dir: Optional[Path], split_name: str, texts_file: Optional[Path],
    count: int, bias: float, style: Optional[int], seed: int, as_json: bool, per_line: bool,
) -> None:
    import json

    from scribe.writing.document import Scribe
    from scribe.writing.sampling import SamplingOptions
    from scribe.training.legibility import InkReader, dataset_lines, measure_legibility
    from scribe.writing.registry import resolve_model

    if count < 1:
        raise ScribeError(f"-n {count}: give at least one text")
    with _progress_bars("bytes") as bars:
        writer = Scribe(model, _bar_when(bars, f"downloading {model}", 0))
        reader = InkReader(resolve_model(recognizer, _bar_when(bars, f"downloading {recognizer}", 0)))
    if texts_file is not None:
        texts, real_lines = _texts_to_write(texts_file, writer.model.alphabet)[:count], None
    else:
        texts, real_lines = dataset_lines(_resolve_data_dir(data_dir), count, seed, split_name)
    options = SamplingOptions(bias=bias, conditioning=writer.conditioning(style))
    with _progress_bars("items") as bars:
        report = measure_legibility(writer.model, reader, texts, options, real_lines=real_lines, seed=seed,
                                    progress=bars("writing", len(texts)))
    if as_json:
        print(json.dumps(report.to_dict()))
        return
    if per_line:
        for line in report.lines:
            print(f"text:      {line.text}\ngenerated: {line.generated}" + ("" if line.finished else "   [did not end]")
                  + (f"\nreal:      {line.real}" if line.real is not None else "") + "\n")
    _print_legibility(report, model, recognizer)


def _texts_to_write(path: Path, alphabet: str) -> list[str]:
    """The non-empty lines of ``path``, fitted to the model's alphabet."""
    from scribe.ink.text import check_text, decode_input, fit_to_alphabet

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ScribeError(f"cannot read --texts {path}: {exc.strerror}") from exc
    lines = [line.strip() for line in check_text(decode_input(data, str(path))).splitlines()]
    fitted = [fit_to_alphabet(line, alphabet)[0] for line in lines if line]
    if not fitted:
        raise ScribeError(f"--texts {path} has no text; give one text per line")
    return fitted


def _print_legibility(report: LegibilityReport, model: str, recognizer: str) -> None:
    print(f"legibility of {model}, read by {recognizer}, on {len(report.lines)} texts")
    print(f"  generated ink: CER {report.generated_cer:.1f}%, WER {report.generated_wer:.1f}%")
    if report.real_cer is not None:
        ratio = report.generated_cer / report.real_cer if report.real_cer else float("inf")
        print(f"  real ink:      CER {report.real_cer:.1f}%, WER {report.real_wer:.1f}%  (generated/real CER {ratio:.2f})")
    print(f"  completion:    {report.completion_rate:.1f}% of generated lines ended where their text ends")
    if report.most_misread:
        shown = ", ".join(f"{char!r} {n}/{total}" for char, n, total in report.most_misread)
        print(f"  most misread:  {shown}")


def _format_result(result: EvalResult, prefix: str = "") -> str:
    text = (
        f"{prefix}pen-lift accuracy {result.pen_lift_accuracy:.2f}%, "
        f"nll {result.nll:.2f} nats per sequence ({result.nll_per_point:.4f} per point), "
        f"alignment error {result.alignment_error:.3f}"
    )
    if result.kl is not None:
        text += f", kl {result.kl:.2f} nats"
    return text + f" [{result.sequences} sequences, {result.points} points]"


models_app = typer.Typer(help="List and download the registered models.", invoke_without_command=True)
app.add_typer(models_app, name="models")


@models_app.callback()
def models_list(context: typer.Context) -> None:
    """List the registered models: name, kind, where it is (installed or not), and its styles."""
    if context.invoked_subcommand is not None:
        return
    from scribe.writing.registry import REGISTRY, installed_path

    for entry in REGISTRY.values():
        path = installed_path(entry)
        if path is not None:
            where = str(path) + (_style_note(path) if entry.kind != "recognizer" else "")
        elif entry.package_file:
            where = "missing from this installation: reinstall scribe"
        else:
            where = f"not downloaded ({entry.size or '?'} bytes): scribe models download {entry.name}"
        default = " (default)" if entry.name in (DEFAULT_MODEL, DEFAULT_RECOGNIZER) else ""
        print(f"{entry.name}{default}  [{entry.kind}]  {entry.description}\n    {where}")


def _style_note(path: Path) -> str:
    from scribe.writing.network import load_inference_model

    model = load_inference_model(path)
    count = len(model.builtin_styles)
    if model.kind == "vae":
        return "; styles: any --style-seed N, or --style-file"
    return f"; built-in styles: --style 0 to {count - 1}" if count else ""


@app.command("export")
def export_command(
    checkpoint: Annotated[Path, typer.Argument(metavar="CHECKPOINT", help="A training checkpoint (.pth).")],
    output: Annotated[Path, typer.Argument(metavar="OUT", help="The model file to write (.npz).")],
    styles: Annotated[Optional[str], typer.Option("--styles", metavar="IDS", help="Built-in styles, in order: comma-separated writer-style ids (0 = any writer).")] = None,
) -> None:
    """Turn a checkpoint into a portable float16 model file (.npz) that scribe loads fast."""
    from scribe.training.checkpoint import export_model_file, read_checkpoint

    if output.suffix != ".npz":
        raise ScribeError(f"model files end in .npz, not {output.suffix or '(none)'}; name the output like model.npz")
    loaded = read_checkpoint(checkpoint)
    chosen = _style_ids(styles, len(loaded.get("style_writers") or []))
    export_model_file({**loaded, "builtin_styles": chosen}, output)
    if loaded.get("kind") in ("graves", "vae"):
        from scribe.writing.document import calibrate_model_file

        advances = calibrate_model_file(output)
        stderr.print("style widths (x-heights per character): " + ", ".join(f"{a:.2f}" for a in advances), markup=False)
    stderr.print(f"wrote {output}", markup=False)


def _style_ids(text: Optional[str], count: int) -> Optional[list[int]]:
    if text is None:
        return None
    try:
        ids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ScribeError(f"--styles {text!r}: give comma-separated style ids like 0,12,40") from None
    wrong = [i for i in ids if not 0 <= i <= count]
    if wrong or not ids:
        raise ScribeError(f"--styles: the model has styles 0 to {count}; {wrong or 'none given'} is not among them")
    return ids


@models_app.command("download")
def models_download(name: Annotated[str, typer.Argument(metavar="NAME", help="A name from `scribe models`.")]) -> None:
    """Fetch a registered model into $SCRIBE_HOME/models (verified by size and SHA-256)."""
    from scribe.writing.registry import download_model

    with _progress_bars("bytes") as bars:
        path = download_model(name, _bar_when(bars, f"downloading {name}", 0))
    stderr.print(f"{name}: {path}", markup=False)


def _bar_when(bars: ProgressFactory, description: str, min_total: int) -> ProgressFn:
    """A progress callback that draws its bar only once the total is known to exceed ``min_total``."""
    update: Optional[ProgressFn] = None

    def report(done: int, total: Optional[int]) -> None:
        nonlocal update
        if update is None and (total or 0) > min_total:
            update = bars(description, total)
        if update is not None:
            update(done, total)

    return report


def _read_text(text: Optional[str], input_file: Optional[Path]) -> Optional[str]:
    """The text to write: the argument, --input FILE, or piped stdin; None means ask interactively."""
    from scribe.ink.text import decode_input

    if text is not None and input_file is not None:
        raise ScribeError("give the text either as an argument or with --input FILE, not both")
    if text is not None:
        return text
    if input_file is not None:
        try:
            return decode_input(input_file.read_bytes(), str(input_file))
        except OSError as exc:
            raise ScribeError(f"cannot read --input {input_file}: {exc.strerror}; check the path") from exc
    if not sys.stdin.isatty():
        return decode_input(sys.stdin.buffer.read(), "stdin")
    return None


def _page_setup(page: str, margin: float, line_spacing: float, x_height: Optional[float], align: str,
                ink: str, pen_width: float, ruled: bool, transparent: bool) -> PageSetup:
    from scribe.writing.render import PageSetup, parse_page_size

    setup = PageSetup(
        size=parse_page_size(page), margin=margin, line_spacing=line_spacing, x_height=x_height, align=align,
        ink=ink, pen_width=pen_width, ruled=ruled, background=None if transparent else "white",
    )
    setup.validate()
    return setup


def _warn_about(document: Document) -> None:
    from scribe.ink.text import describe_substitutions

    if document.substitutions:
        changes = describe_substitutions(document.substitutions)
        stderr.print(f"warning: the model cannot write every character; {changes}", markup=False)
    for number, line in enumerate(document.lines, 1):
        if line.problems:
            stderr.print(
                f"warning: line {number} ({line.text[:30]!r}) may be hard to read: {', '.join(line.problems)}; "
                "try another --seed", markup=False,
            )


@app.command("write")
def write_command(
    text: Annotated[Optional[str], typer.Argument(metavar="TEXT", help="Text to write. [default: --input FILE, or stdin, or ask]")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", metavar="PATH", help="Output file (.svg, .png, .pdf) or - for stdout.")] = Path("handwriting.svg"),
    input_file: Annotated[Optional[Path], typer.Option("--input", "-i", metavar="FILE", help="Read the text from a UTF-8 file.")] = None,
    format: Annotated[Optional[str], typer.Option("--format", "-f", metavar="FORMAT", help="svg, png or pdf. [default: from the extension]")] = None,
    model: Annotated[str, typer.Option("--model", "-m", metavar="NAME|PATH", help="Registered model name or model file.")] = DEFAULT_MODEL,
    style: Annotated[Optional[int], typer.Option("--style", "-s", metavar="N", help="Built-in style (see `scribe models`). [default: 0]")] = None,
    style_file: Annotated[Optional[Path], typer.Option("--style-file", metavar="FILE", help="Write like this sample: SVG, JSON, .npz or IAM-OnDB XML.")] = None,
    style_text: Annotated[Optional[str], typer.Option("--style-text", metavar="TEXT", help="What --style-file says (when the file does not).")] = None,
    style_seed: Annotated[Optional[int], typer.Option("--style-seed", metavar="N", help="VAE: sample the style z with this seed.")] = None,
    bias: Annotated[float, typer.Option("--bias", "-b", metavar="B", help="Sampling bias: higher is neater, lower more varied.")] = DEFAULT_BIAS,
    temperature: Annotated[float, typer.Option("--temperature", metavar="T", help="Sampling temperature.")] = 1.0,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="Same seed, same text, same options: byte-identical output.")] = 0,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on characters the model cannot write instead of substituting.")] = False,
    page: Annotated[str, typer.Option("--page", metavar="SIZE", help="a4, a5, letter, legal or WIDTHxHEIGHT in mm.")] = "a4",
    margin: Annotated[float, typer.Option("--margin", metavar="MM", help="Page margin.")] = 20.0,
    line_spacing: Annotated[float, typer.Option("--line-spacing", metavar="MM", help="Distance between baselines.")] = 10.0,
    x_height: Annotated[Optional[float], typer.Option("--x-height", metavar="MM", help="Height of small letters. [default: 0.22 x line spacing]")] = None,
    align: Annotated[str, typer.Option("--align", metavar="left|center", help="Line alignment.")] = "left",
    ink: Annotated[str, typer.Option("--ink", metavar="COLOR", help="Ink colour (#rrggbb or an SVG colour name).")] = "#1b2a6b",
    pen_width: Annotated[float, typer.Option("--pen-width", metavar="MM", help="Pen width.")] = 0.5,
    ruled: Annotated[bool, typer.Option("--ruled", help="Draw ruled paper behind the writing.")] = False,
    dpi: Annotated[float, typer.Option("--dpi", metavar="DPI", help="PNG resolution.")] = 150,
    transparent: Annotated[bool, typer.Option("--transparent", help="PNG/SVG without the white background.")] = False,
) -> None:
    """Write text as handwriting to SVG, PNG or PDF pages.

    The text comes from TEXT, --input FILE, or stdin (cat notes.txt | scribe write
    -o notes.pdf); with none of them on a terminal, scribe asks for texts one by one.
    """
    from scribe.writing.document import Scribe, check_output_folder, output_format

    to_stdout = str(output) == "-"
    fmt = output_format(Path("stdout"), format or "svg") if to_stdout else output_format(output, format)
    if not to_stdout:
        check_output_folder(output)  # before the work, not after it
    setup = _page_setup(page, margin, line_spacing, x_height, align, ink, pen_width, ruled, transparent)
    content = _read_text(text, input_file)
    with _progress_bars("bytes") as bars:
        scribe = Scribe(model, download_progress=_bar_when(bars, f"downloading {model}", 0))
    prime = _read_style_file(style_file, style_text, scribe) if style_file is not None else None

    def write_one(words: str, target: Path) -> None:
        with _progress_bars("items") as bars:
            document = scribe.write(
                words, setup=setup, style=style, style_seed=style_seed, prime=prime, bias=bias,
                temperature=temperature, seed=seed, strict=strict,
                progress=_bar_when(bars, "writing lines", PROGRESS_MIN_LINES),
            )
        _warn_about(document)
        if to_stdout:
            sys.stdout.buffer.write(document.to_bytes(fmt, dpi))
            sys.stdout.buffer.flush()
            return
        for path in document.save(target, fmt, dpi):
            stderr.print(f"wrote {path}", markup=False)

    if content is not None:
        write_one(content, output)
        return
    stderr.print("Type a text and press Enter to write it; an empty line or Ctrl-D ends.", markup=False)
    for number in range(1, sys.maxsize):
        try:
            entry = stderr.input("text> ")  # the prompt goes to stderr: stdout may carry -o - data
        except EOFError:
            break
        if not entry.strip():
            break
        write_one(entry, output.with_name(f"{output.stem}-{number}{output.suffix}"))


def _read_style_file(path: Path, text: Optional[str], scribe: Scribe) -> tuple:
    from scribe.writing.stylefile import read_style_file

    return read_style_file(path, text, scribe.model)


def main() -> None:
    """Entry point of the ``scribe`` console script: every failure a user can fix is one line."""
    try:
        code = app(standalone_mode=False)
    except ScribeError as exc:
        _fail(str(exc), 1)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:
        # Typer's command-line parsing errors (unknown option, bad value) carry their own
        # message and exit status; anything else is a bug and keeps its traceback.
        if not (hasattr(exc, "format_message") and hasattr(exc, "exit_code")):
            raise
        context = getattr(exc, "ctx", None)
        hint = f"; see `{context.command_path} --help`" if context is not None else ""
        _fail(exc.format_message() + hint, exc.exit_code)
    if isinstance(code, int) and code:
        raise SystemExit(code)


def _fail(message: str, status: int) -> NoReturn:
    stderr.print(message if message == "interrupted" else f"error: {message}", markup=False, soft_wrap=True)
    raise SystemExit(status)
