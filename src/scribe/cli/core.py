"""The ``scribe`` application: the Typer app, progress bars on stderr, and the one-line error handling.

Each command lives in the module of its room (:mod:`scribe.cli.datasets`,
:mod:`scribe.cli.training`, :mod:`scribe.cli.writing`) and registers itself on :data:`app`.

Messages and progress bars go to stderr; stdout is kept for data. A
:class:`~scribe.errors.ScribeError` becomes one ``error: ...`` line and exit status 1.
"""

from __future__ import annotations

import functools
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, BinaryIO, NoReturn

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, ProgressColumn

from scribe import __version__
from scribe.errors import ScribeError
from scribe.progress import ProgressFactory, ProgressFn

app = typer.Typer(
    name="scribe",
    help="Turn text into realistic, human-like handwriting, and train the models that write it.",
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class Messages:
    """One-line messages on stderr, printed as they are (no markup, no wrapping).

    Plain writes, so that a command that draws no progress bar never loads rich's
    console (25-40 ms of a half-second note); while a bar is drawn, rich sends these
    lines above it.
    """

    @property
    def is_terminal(self) -> bool:
        return sys.stderr.isatty()

    def print(self, message: str) -> None:
        sys.stderr.write(message + "\n")

    def input(self, prompt: str) -> str:
        """A line typed at ``prompt`` (on stderr: stdout may carry data); EOFError at the end of the input."""
        sys.stderr.write(prompt)
        sys.stderr.flush()
        return input()


stderr = Messages()


@functools.cache
def rich_console() -> Console:
    """The console progress bars are drawn on (stderr), made when the first bar is."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)

#: The library's parameter names (in backticks in its messages) -> the flags that set them.
FLAGS = {
    "urls": "--url",
    "from_files": "--from-file",
    "sha256": "--sha256",
    "force": "--force",
    "overwrite": "--overwrite",
    "source": "--source",
    "train_extra": "--train-extra",
    "simplify_eps": "--simplify",
    "categories": "--categories",
    "keep_bad": "--keep-bad",
    "device": "--device",
    "lr": "--lr",
    "resume": "--resume",
    "init_from": "--init-from",
    "out_dir": "--out",
    "data_dir": "--data",
    "mix": "--mix",
    "format": "--format",
    "epochs": "--epochs",
    "max_steps": "--max-steps",
    "batch_size": "--batch-size",
    "hidden": "--hidden",
    "layers": "--layers",
    "seed": "--seed",
    "bias": "--bias",
    "temperature": "--temperature",
    "style": "--style",
    "strict": "--strict",
    "style_text": "--style-text",
    "style_seed": "--style-seed",
    "styles": "--styles",
    "text": "TEXT, --input FILE or stdin",
}
_PARAMETER = re.compile(r"`([a-z_0-9]+)`")

MAX_INPUT_BYTES = 200_000  # about 60 pages of text; longer documents are written in parts
PLAIN_PROGRESS_SECONDS = 10.0  # between progress lines when stderr is a file or a pipe
INTERRUPTED = 130  # the exit status of a command stopped with Ctrl-C (128 + SIGINT)
LOG_EVERY = 50  # training steps between status lines when stderr is not a terminal
REDRAW_SECONDS = 0.1  # a bar of items is redrawn at most this often
PROGRESS_MIN_LINES = 3  # `scribe write` draws a progress bar for documents of more lines


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
def progress_bars(unit: str) -> Iterator[ProgressFactory]:
    """Yield a factory of progress callbacks, one rich bar each, drawn on stderr.

    ``unit`` is ``"bytes"`` (size, speed and ETA columns) or ``"items"`` (n/total).
    rich is loaded with the first bar: most runs draw none.
    """
    bars: list[Progress] = []

    def factory(description: str, total: int | None) -> ProgressFn:
        if not stderr.is_terminal:  # a log file gets a plain line now and then, not a bar
            return _plain_progress(description)
        if not bars:
            bars.append(_rich_progress(unit))
            bars[0].start()
        task = bars[0].add_task(description, total=total)

        drawn = 0.0  # when this bar was last redrawn (bars of items only: see _rich_progress)

        def update(completed: int, new_total: int | None) -> None:
            nonlocal drawn
            redraw = unit != "bytes" and (time.monotonic() - drawn >= REDRAW_SECONDS or completed == new_total)
            bars[0].update(task, completed=completed, total=new_total, refresh=redraw)
            drawn = time.monotonic() if redraw else drawn

        return update

    try:
        yield factory
    finally:
        if bars and bars[0].live.is_started:
            bars[0].stop()


def _rich_progress(unit: str) -> Progress:
    """Bars for ``unit`` on stderr, transient: an error during the work leaves only its one line.

    Bars of items are redrawn as items finish, by the thread doing the work: a
    refreshing thread of their own would keep sampling from forking its share of
    the lines onto the second core (:mod:`scribe.writing.parallel`).
    """
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns: list[ProgressColumn] = [TextColumn("{task.description}"), BarColumn()]
    if unit == "bytes":
        columns += [DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn()]
    else:
        columns += [MofNCompleteColumn(), TimeRemainingColumn()]
    return Progress(*columns, console=rich_console(), transient=True, auto_refresh=unit == "bytes")


def _plain_progress(description: str) -> ProgressFn:
    """A progress callback for a log: one line at most every :data:`PLAIN_PROGRESS_SECONDS`."""
    last = time.monotonic()

    def report(completed: int, total: int | None) -> None:
        nonlocal last
        if time.monotonic() - last >= PLAIN_PROGRESS_SECONDS:
            last = time.monotonic()
            stderr.print(f"{description}: {completed:,}" + (f"/{total:,}" if total else ""))

    return report


def bar_when(bars: ProgressFactory, description: str, min_total: int) -> ProgressFn:
    """A progress callback that draws its bar only once the total is known to exceed ``min_total``."""
    update: ProgressFn | None = None

    def report(done: int, total: int | None) -> None:
        nonlocal update
        if update is None and (total or 0) > min_total:
            update = bars(description, total)
        if update is not None:
            update(done, total)

    return report


def main() -> None:
    """Entry point of the ``scribe`` console script: every failure a user can fix is one line."""
    try:
        code = app(standalone_mode=False)
    except ScribeError as exc:
        _fail(cli_terms(str(exc)), 1)
    except KeyboardInterrupt:
        _fail("interrupted", INTERRUPTED)
    except Exception as exc:
        # Typer's command-line parsing errors (unknown option, bad value) carry their own
        # message and exit status; anything else is a bug and keeps its traceback.
        if not (hasattr(exc, "format_message") and hasattr(exc, "exit_code")):
            raise
        context = getattr(exc, "ctx", None)
        hint = f"; see `{context.command_path} --help`" if context is not None else ""
        _fail(exc.format_message() + hint, exc.exit_code)
    if code == INTERRUPTED:  # Typer turns Ctrl-C into this exit status before scribe sees it
        _fail("interrupted", INTERRUPTED)
    if isinstance(code, int) and code:
        raise SystemExit(code)


def cli_terms(message: str) -> str:
    """A library message with its parameter names (`from_files`) shown as this command's flags."""
    return _PARAMETER.sub(lambda match: FLAGS.get(match[1], match[0]), message)


def _fail(message: str, status: int) -> NoReturn:
    stderr.print(message if message == "interrupted" else f"error: {message}")
    raise SystemExit(status)


def read_at_most(stream: BinaryIO, source: str) -> bytes:
    """The bytes of ``stream``, refusing more than :data:`MAX_INPUT_BYTES` (``/dev/zero`` never ends)."""
    data = stream.read(MAX_INPUT_BYTES + 1)
    if len(data) > MAX_INPUT_BYTES:
        raise ScribeError(
            f"{source} holds more than {MAX_INPUT_BYTES:,} bytes of text (about 60 pages); write it in parts"
        )
    return data
