"""``scribe write``, ``scribe styles`` and ``scribe models``: the commands of the writing room (no PyTorch)."""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from scribe.cli.core import PROGRESS_MIN_LINES, app, bar_when, progress_bars, read_at_most, stderr
from scribe.errors import ScribeError
from scribe.writing.formats import DEFAULT_DPI, FORMATS, RenderOptions
from scribe.writing.layout import DEFAULT_PAGE, PAGE_SIZES, X_HEIGHT_PER_SPACING, PageSetup
from scribe.writing.plotter import DEFAULT_PLOT_PROFILE, PLOT_PROFILES, plot_settings
from scribe.writing.registry import DEFAULT_MODEL, DEFAULT_RECOGNIZER
from scribe.writing.sampling import DEFAULT_BIAS, DEFAULT_CANDIDATES, MAX_CANDIDATES, SamplingOptions
from scribe.writing.stored import KINDS
from scribe.writing.stylefile import style_file_kinds

if TYPE_CHECKING:
    from scribe.writing.document import Document, PageStream, Scribe
    from scribe.writing.formats import OutputFormat
    from scribe.writing.styles import StyleMix

_PAGE = PageSetup()  # the page defaults, shown in --help


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
            where = str(path) + (_style_note(path) if KINDS[entry.kind].writes else "")
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
    if model.is_vae:
        return "; styles: any --style-seed N, or --style-file"
    return f"; built-in styles: --style 0 to {count - 1}" if count else ""


@models_app.command("download")
def models_download(name: Annotated[str, typer.Argument(metavar="NAME", help="A name from `scribe models`.")]) -> None:
    """Fetch a registered model into $SCRIBE_HOME/models (verified by size and SHA-256)."""
    from scribe.writing.registry import download_model

    with progress_bars("bytes") as bars:
        path = download_model(name, bar_when(bars, f"downloading {name}", 0))
    stderr.print(f"{name}: {path}")


def _read_text(text: str | None, input_file: Path | None) -> str | None:
    """The text to write: the argument, --input FILE, or piped stdin; None means ask interactively."""
    from scribe.ink.text import decode_input

    if text is not None and input_file is not None:
        raise ScribeError("give the text either as an argument or with --input FILE, not both")
    if text is not None:
        return text
    if input_file is not None:
        if input_file.is_dir():
            raise ScribeError(f"--input {input_file} is a folder (or empty); give a text file")
        try:
            with open(input_file, "rb") as handle:
                return decode_input(read_at_most(handle, str(input_file)), str(input_file))
        except OSError as exc:
            raise ScribeError(f"cannot read --input {input_file}: {exc.strerror}; check the path") from exc
    if not sys.stdin.isatty():
        return decode_input(read_at_most(sys.stdin.buffer, "stdin"), "stdin")
    return None


def _check_request(output: Path, to_stdout: bool, inputs: list[Path | None], dpi: float, style_text: str | None) -> None:
    """Everything about the destination, the numbers and the options that can be checked before any work."""
    from scribe.writing.document import check_destination
    from scribe.writing.formats import check_dpi

    if style_text is not None and inputs[1] is None:
        raise ScribeError("--style-text says what the --style-file sample shows; give --style-file too")
    check_dpi(dpi)
    if to_stdout:
        if sys.stdout is None:  # started with stdout closed (`>&-`)
            raise ScribeError("standard output is closed; give -o FILE instead")
        return
    check_destination(output)
    target = output.resolve()  # through a link: the file that would really be replaced
    same_name = re.compile(rf"{re.escape(target.stem)}(-\d+)?{re.escape(target.suffix)}")
    for source in inputs:
        if source is None or not source.exists():
            continue
        if source.resolve().parent == target.parent and same_name.fullmatch(source.resolve().name):
            raise ScribeError(f"-o {output} would overwrite {source}, which is read to write it; choose another output")


def _page_setup(page: str, margin: float, line_spacing: float, x_height: float | None, align: str,
                ink: str, pen_width: float, ruled: bool, transparent: bool) -> PageSetup:
    from scribe.writing.layout import parse_page_size

    paper = DEFAULT_PAGE if page.strip().lower() in ("auto", "fit") else page  # cropped or not, wrapped to this paper
    setup = PageSetup(
        size=parse_page_size(paper), margin=margin, line_spacing=line_spacing, x_height=x_height, align=align,
        ink=ink, pen_width=pen_width, ruled=ruled, background=None if transparent else "white",
    )
    setup.validate()
    return setup


def _render_options(fmt: OutputFormat, page: str, setup: PageSetup, given: RenderOptions) -> RenderOptions:
    """The render options of the command: the page cropped to the ink or not (``--page``), checked before any work."""
    from dataclasses import replace

    paper = page.strip().lower()
    options = replace(given, fit=paper == "fit" or (paper == "auto" and fmt.fit_by_default))
    options.check(fmt, [setup.size], setup)
    _note_unused(fmt, options, {"--pen-width": setup.pen_width != _PAGE.pen_width, "--ruled": setup.ruled,
                                "--transparent": setup.background is None, "--speed": options.speed != RenderOptions.speed,
                                "--no-loop": not options.loop})
    return options


MISREAD_SHOWN = 3  # misread lines quoted in the warning; the rest are counted


def _warn_about(document: Document, lines_before: int = 0) -> list[str]:
    """Warn of replaced characters and of doubtful lines; the lines verified writing still misreads, to warn of once."""
    from scribe.ink.text import describe_substitutions

    if document.substitutions:
        changes = describe_substitutions(document.substitutions)
        stderr.print(f"warning: the model cannot write every character; {changes}")
    misread = []
    for number, line in enumerate(document.lines, lines_before + 1):
        if line.problems:
            stderr.print(
                f"warning: line {number} ({line.text[:30]!r}) may be hard to read: {', '.join(line.problems)}; "
                "try another --seed"
            )
        elif line.misread:
            misread.append(f"line {number} as {line.reading!r}")
    return misread


def _warn_of_slips(misread: list[str], lines: int) -> None:
    """One warning for all lines still misread: verified writing is on by default, and most pages keep a slip or two."""
    if misread:
        shown = ", ".join(misread[:MISREAD_SHOWN]) + (f" and {len(misread) - MISREAD_SHOWN} more" if len(misread) > MISREAD_SHOWN else "")
        stderr.print(f"warning: {len(misread)} of {lines} lines may have a slip even at their best "
                     f"candidate: the reader read {shown}; try another --seed or more --candidates")


@app.command("write")
def write_command(
    text: Annotated[str | None, typer.Argument(metavar="TEXT", help="Text to write. [default: --input FILE, or stdin, or ask]")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", metavar="PATH", help=f"Output file ({', '.join('.' + e for f in FORMATS.values() for e in f.extensions[:1])}) or - for stdout.")] = Path("handwriting.svg"),
    input_file: Annotated[Path | None, typer.Option("--input", "-i", metavar="FILE", help="Read the text from a UTF-8 file.")] = None,
    format: Annotated[str | None, typer.Option("--format", "-f", metavar="FORMAT", help=f"{', '.join(FORMATS)}. [default: from the extension]")] = None,
    model: Annotated[str, typer.Option("--model", "-m", metavar="NAME|PATH", help="Registered model name or model file.")] = DEFAULT_MODEL,
    style: Annotated[int | None, typer.Option("--style", "-s", metavar="N", help="Built-in style (see `scribe models`). [default: 0]")] = None,
    style_file: Annotated[Path | None, typer.Option("--style-file", metavar="FILE", help=f"Write like this sample: {style_file_kinds()}.")] = None,
    style_text: Annotated[str | None, typer.Option("--style-text", metavar="TEXT", help="What --style-file shows, word for word and punctuation included (when the file does not say).")] = None,
    style_seed: Annotated[int | None, typer.Option("--style-seed", metavar="N", help="A new hand drawn with this seed (from a writer's learned styles, or a VAE's z).")] = None,
    style_mix: Annotated[str | None, typer.Option("--style-mix", metavar="A,B,T", help="A hand between styles A and B (VAE: style seeds), T from 0 (A) to 1 (B).")] = None,
    style_temperature: Annotated[float, typer.Option("--style-temperature", metavar="T", help="How far a drawn hand is from the average one: 0 the average, 1 typical.")] = 1.0,
    bias: Annotated[float, typer.Option("--bias", "-b", metavar="B", help="Sampling bias: higher is neater, lower more varied.")] = DEFAULT_BIAS,
    temperature: Annotated[float, typer.Option("--temperature", metavar="T", help="Sampling temperature.")] = SamplingOptions.temperature,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="Same seed, same text, same options: byte-identical output.")] = 0,
    candidates: Annotated[int, typer.Option("--candidates", metavar="N", min=1, max=MAX_CANDIDATES, help="Read every line back and draw a misread one again, up to N samples, keeping the likeliest to say its text (1: off).")] = DEFAULT_CANDIDATES,
    keep_lines: Annotated[bool, typer.Option("--keep-lines", help="Keep every line break of the text (poems, addresses); by default the lines of wrapped paragraphs are joined.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on characters the model cannot write instead of substituting.")] = False,
    page: Annotated[str, typer.Option("--page", metavar="SIZE", help=f"auto (one page of SVG, PNG or GIF: cropped to the ink; else {DEFAULT_PAGE}), fit (cropped), {', '.join(PAGE_SIZES)} or WIDTHxHEIGHT in mm.")] = "auto",
    margin: Annotated[float, typer.Option("--margin", metavar="MM", help="Page margin.")] = _PAGE.margin,
    line_spacing: Annotated[float, typer.Option("--line-spacing", metavar="MM", help="Distance between baselines.")] = _PAGE.line_spacing,
    x_height: Annotated[float | None, typer.Option("--x-height", metavar="MM", help=f"Height of small letters. [default: {X_HEIGHT_PER_SPACING} x line spacing]")] = None,
    align: Annotated[str, typer.Option("--align", metavar="left|center", help="Line alignment.")] = _PAGE.align,
    ink: Annotated[str, typer.Option("--ink", metavar="COLOR", help="Ink colour (#rrggbb or an SVG colour name).")] = _PAGE.ink,
    pen_width: Annotated[float, typer.Option("--pen-width", metavar="MM", help="Pen width.")] = _PAGE.pen_width,
    ruled: Annotated[bool, typer.Option("--ruled", help="Draw ruled paper behind the writing.")] = False,
    dpi: Annotated[float, typer.Option("--dpi", metavar="DPI", help="PNG and GIF resolution.")] = DEFAULT_DPI,
    transparent: Annotated[bool, typer.Option("--transparent", help="PNG/SVG without the white background.")] = False,
    animate: Annotated[bool, typer.Option("--animate", help="SVG that writes itself stroke by stroke (a .gif always does).")] = False,
    speed: Annotated[float, typer.Option("--speed", metavar="X", help="Animation pace, times a human pen's.")] = RenderOptions.speed,
    loop: Annotated[bool, typer.Option("--loop/--no-loop", help="Start an animation again after a pause, or stop at the end.")] = RenderOptions.loop,
    plot_profile: Annotated[str, typer.Option("--plot-profile", metavar="NAME|FILE", help=f"Plotter machine for .gcode/.hpgl/plotter-svg: {', '.join(PLOT_PROFILES)} or a .toml file.")] = DEFAULT_PLOT_PROFILE,
) -> None:
    """Write text as handwriting: SVG, PNG, PDF, animated SVG or GIF, or G-code, HPGL and SVG for pen plotters.

    The text comes from TEXT, --input FILE, or stdin (cat notes.txt | scribe write
    -o notes.pdf); with none of them on a terminal, scribe asks for texts one by one.
    """
    from scribe.writing.document import Scribe
    from scribe.writing.formats import output_format

    to_stdout = str(output) == "-"
    _check_request(output, to_stdout, [input_file, style_file], dpi, style_text)  # before the work, not after it
    fmt = output_format(format or "svg") if to_stdout else output_format(format, output)
    setup = _page_setup(page, margin, line_spacing, x_height, align, ink, pen_width, ruled, transparent)
    options = _render_options(fmt, page, setup, RenderOptions(dpi=dpi, animate=animate, speed=speed, loop=loop,
                                                              plot=plot_settings(plot_profile)))
    content = _read_text(text, input_file)
    with progress_bars("bytes") as bars:
        scribe = Scribe(model, download_progress=bar_when(bars, f"downloading {model}", 0))
    prime, mix = _read_style_file(style_file, style_text, scribe), _style_mix(style_mix)

    def write_one(words: str, target: Path) -> None:
        with progress_bars("items") as bars:
            stream = scribe.write_pages(
                words, setup=setup, style=style, style_seed=style_seed, style_mix=mix, style_temperature=style_temperature,
                prime=prime, bias=bias, temperature=temperature, seed=seed, strict=strict, candidates=candidates,
                reflow=not keep_lines, max_pages=1 if to_stdout and not fmt.one_file(options) else None,
                progress=bar_when(bars, "writing lines", PROGRESS_MIN_LINES),
            )
            _deliver(stream, fmt, options, None if to_stdout else target)

    write_one(content, output) if content is not None else _ask_for_texts(write_one, output)


SHEET_FORMATS = ("svg", "png", "pdf")


@app.command("styles")
def styles_command(
    output: Annotated[Path, typer.Option("--output", "-o", metavar="PATH", help="The sheet: .svg, .png or .pdf.")] = Path("styles.svg"),
    model: Annotated[str, typer.Option("--model", "-m", metavar="NAME|PATH", help="Registered model name or model file.")] = DEFAULT_MODEL,
    text: Annotated[str | None, typer.Option("--text", "-t", metavar="TEXT", help="What every style writes. [default: a line with capitals, digits and punctuation]")] = None,
    count: Annotated[int | None, typer.Option("--count", "-n", metavar="N", help="Show N drawn hands (style seeds 1 to N) instead of the built-in styles. [default: a VAE's 8]")] = None,
    bias: Annotated[float, typer.Option("--bias", "-b", metavar="B", help="Sampling bias: higher is neater, lower more varied.")] = DEFAULT_BIAS,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="Same seed, same sheet.")] = 0,
    dpi: Annotated[float, typer.Option("--dpi", metavar="DPI", help="PNG resolution.")] = DEFAULT_DPI,
) -> None:
    """Write the same line in every built-in style (or N drawn hands), each row named, to pick a style."""
    from scribe.writing.document import Scribe
    from scribe.writing.formats import output_format
    from scribe.writing.sheet import SHEET_TEXT, sheet_styles, style_sheet

    if output.suffix.lower().lstrip(".") not in SHEET_FORMATS:
        raise ScribeError(f"a style sheet is drawn as SVG, PNG or PDF, not as {str(output)!r}: give -o styles.png (or .svg, .pdf)")
    if text is not None and not text.strip():
        raise ScribeError("--text is empty: give the line that every style writes, or leave --text out")
    _check_request(output, False, [], dpi, None)
    fmt = output_format(None, output)
    with progress_bars("bytes") as bars:
        scribe = Scribe(model, download_progress=bar_when(bars, f"downloading {model}", 0))
    choices = sheet_styles(scribe, count)
    with progress_bars("items") as bars:
        sheet = style_sheet(scribe, choices, SHEET_TEXT if text is None else text, seed=seed, bias=bias,
                            progress=bar_when(bars, "writing styles", PROGRESS_MIN_LINES))
    _warn_about(sheet)  # of slips not at all: a sheet is there to compare hands, slips and all
    for path in sheet.save(output, fmt.name, dpi, fit=True):
        stderr.print(f"wrote {path} ({len(choices)} styles)")


@dataclass
class Counted:
    """Pages and lines reported so far, so that each page's report numbers them within the whole document."""

    pages: int = 0
    lines: int = 0
    misread: list[str] = field(default_factory=list)  # lines still misread, warned of once at the end


def _chosen(options: RenderOptions) -> dict[str, object]:
    return {f.name: getattr(options, f.name) for f in fields(options) if f.name != "dpi"}


def _deliver(stream: PageStream, fmt: OutputFormat, options: RenderOptions, target: Path | None) -> None:
    """Save the pages to ``target`` as they are written (None: all to standard output), saying what each holds."""
    counted = Counted()
    if target is None:
        _report(document := stream.document(), fmt, options, counted)
        _warn_of_slips(counted.misread, counted.lines)
        _to_stdout(document.to_bytes(fmt.name, options.dpi, **_chosen(options)))
        return
    paths = stream.save(target, fmt.name, options.dpi, on_page=lambda document: _report(document, fmt, options, counted),
                        **_chosen(options))
    _warn_of_slips(counted.misread, counted.lines)
    for path in paths:
        stderr.print(f"wrote {path}")


def _report(document: Document, fmt: OutputFormat, options: RenderOptions, counted: Counted) -> None:
    """Warn about the document's doubtful lines and, for plotters, say what each page draws."""
    counted.misread += _warn_about(document, counted.lines)
    if fmt.plotter:
        for number, plan in enumerate(document.plot_plans(options.plot), counted.pages + 1):
            stderr.print(f"page {number}: {len(plan.paths)} strokes, pen-up travel {plan.travel:,.0f} mm "
                         f"({plan.writing_order_travel:,.0f} mm in writing order)")
    counted.pages += len(document.pages)
    counted.lines += len(document.lines)


def _note_unused(fmt: OutputFormat, options: RenderOptions, given: dict[str, bool]) -> None:
    """Say which options the chosen format has no use for (they are ignored, not refused)."""
    moves = options.animate or fmt.name == "gif"
    unused = {"--pen-width": fmt.plotter, "--ruled": fmt.plotter, "--transparent": fmt.plotter,
              "--speed": not moves, "--no-loop": not moves}
    ignored = [flag for flag, was_given in given.items() if was_given and unused[flag]]
    if ignored:
        what = "plotters draw with their own pen on plain paper" if fmt.plotter else "only animations move"
        stderr.print(f"note: {', '.join(ignored)} ignored for {fmt.name}: {what}")


def _to_stdout(data: bytes) -> None:
    """Write a document to standard output (a pipe, a terminal, a file), or say in one line why not."""
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except (OSError, ValueError) as exc:  # ValueError: stdout was closed
        with contextlib.suppress(OSError, ValueError):  # nothing more may go to the broken stdout at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise ScribeError(f"cannot write to standard output ({exc}); give -o FILE instead") from None


def _ask_for_texts(write_one: Callable[[str, Path], None], output: Path) -> None:
    """Interactive use: write each text typed at the prompt to ``output``'s name numbered 1, 2, ..."""
    stderr.print("Type a text and press Enter to write it; an empty line or Ctrl-D ends.")
    for number in range(1, sys.maxsize):
        try:
            entry = stderr.input("text> ")  # the prompt goes to stderr: stdout may carry -o - data
        except EOFError:
            break
        if not entry.strip():
            break
        write_one(entry, output.with_name(f"{output.stem}-{number}{output.suffix}"))


def _read_style_file(path: Path | None, text: str | None, scribe: Scribe) -> tuple | None:
    from scribe.writing.stylefile import read_style_file

    return read_style_file(path, text, scribe.model) if path is not None else None


def _style_mix(value: str | None) -> StyleMix | None:
    """``--style-mix A,B,T`` as a :class:`StyleMix`."""
    from scribe.writing.styles import StyleMix

    if value is None:
        return None
    parts = value.split(",")
    try:
        if len(parts) != 3:
            raise ValueError
        return StyleMix(int(parts[0]), int(parts[1]), float(parts[2]))
    except ValueError:
        raise ScribeError(f"--style-mix {value!r} is not A,B,T: two styles (VAE: style seeds) and where between "
                          "them, 0 (A) to 1 (B), e.g. --style-mix 2,5,0.5") from None
