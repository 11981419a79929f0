"""The Python API: text in, a handwritten :class:`Document` out.

    >>> from scribe import write
    >>> doc = write("Meet me at the station before nine tonight.")
    >>> doc.save("note.png")

The flow is one way: text -> fitted to the model's alphabet and wrapped to the page
(:mod:`scribe.ink.text`) -> sampled, all lines at once (:mod:`scribe.writing.sampling`) -> laid
out on pages (:mod:`scribe.writing.layout`) and drawn as SVG -> PNG or PDF on saving
(:mod:`scribe.writing.formats`).
A :class:`Scribe` holds a loaded model for many documents; :func:`write` keeps one
per model name.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, fields
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np

from scribe.atomic import atomic_write, cannot_write, destination, write_files
from scribe.errors import ScribeError
from scribe.ink.metrics import ADVANCE_PER_X_HEIGHT, line_metrics, median
from scribe.ink.strokes import validate_offsets
from scribe.ink.text import Substitution, check_text, fit_to_alphabet
from scribe.ink.wrapping import relative_char_width, wrap_text
from scribe.progress import ProgressFn, no_progress
from scribe.writing.checks import SampledLine
from scribe.writing.formats import (
    DEFAULT_DPI,
    OutputFormat,
    RenderOptions,
    output_format,
    page_svg,
    written_by_scribe,
)
from scribe.writing.layout import Page, PageSetup, estimated_line_width, own_size_trusted
from scribe.writing.network import InferenceModel, load_inference_model
from scribe.writing.pages import DraftFn, WritingPlan, written_pages
from scribe.writing.plotter import PagePlot, PlotSettings, plan_page, plot_settings
from scribe.writing.reader import InkReader
from scribe.writing.registry import DEFAULT_MODEL, DEFAULT_RECOGNIZER, resolve_model
from scribe.writing.sampling import (
    DEFAULT_ATTEMPTS,
    DEFAULT_BIAS,
    DEFAULT_CANDIDATES,
    MAX_ATTEMPTS,
    MAX_CANDIDATES,
    SamplingOptions,
    write_lines,
)
from scribe.writing.stored import StoredModel
from scribe.writing.styles import StyleMix, conditioning_for, style_advance


@dataclass
class Document:
    """Handwritten pages, ready to show or save."""

    pages: list[Page]
    setup: PageSetup
    lines: list[SampledLine]  # the sampled lines, in text order (strokes in dataset units)
    substitutions: list[Substitution] = field(default_factory=list)  # characters replaced to fit the model

    def __post_init__(self) -> None:
        """A document built by hand gets the same one-line errors as one :func:`write` made."""
        if not isinstance(self.pages, list) or not self.pages or not all(isinstance(p, Page) for p in self.pages):
            raise ScribeError(f"a Document needs a list of one or more Page objects as `pages`, not {self.pages!r:.60}")
        if not isinstance(self.setup, PageSetup):
            raise ScribeError(f"a Document's `setup` must be a PageSetup, not {type(self.setup).__name__}")

    @functools.cached_property
    def svgs(self) -> list[str]:
        """Every page as a standalone SVG document."""
        return [page_svg(page, self.setup) for page in self.pages]

    def to_svg(self, page: int = 0, *, animate: bool = False, speed: float = 1.0, loop: bool = True) -> str:
        """Page ``page`` (from 0) as an SVG document; ``animate``: one that writes itself (see :meth:`save`)."""
        if isinstance(page, bool) or not isinstance(page, Integral) or not 0 <= page < len(self.svgs):
            raise ScribeError(f"`page` {page!r} does not exist; this document has pages 0 to {len(self.svgs) - 1}")
        if not animate:
            return self.svgs[page]
        return self.render("svg", animate=True, speed=speed, loop=loop)[page].decode()

    def animation(self, page: int = 0, speed: float = 1.0, loop: bool = True) -> AnimatedPage:
        """Page ``page`` writing itself, for Jupyter to show (its ``.svg`` is the animated SVG)."""
        return AnimatedPage(self.to_svg(page, animate=True, speed=speed, loop=loop))

    def render(self, format: str | OutputFormat, dpi: float = DEFAULT_DPI, **options: Any) -> list[bytes]:
        """The bytes of every file the document makes in ``format``: one per page, or one in all (PDF).

        ``options`` are those of :class:`~scribe.writing.formats.RenderOptions`: ``animate``,
        ``speed`` and ``loop`` for animations, ``fit`` to crop a one-page document to its
        ink, ``plot`` (a profile name, a TOML file or :class:`~scribe.writing.plotter.PlotSettings`)
        for plotter formats.
        """
        fmt = format if isinstance(format, OutputFormat) else output_format(format)
        chosen = render_options(dpi, options)
        pages = chosen.pages(fmt, self.pages, self.setup)
        chosen.check(fmt, [(page.width, page.height) for page in pages], self.setup)
        return fmt.render(pages, self.setup, chosen)

    def plot_plans(self, plot: str | Path | PlotSettings | None = None) -> list[PagePlot]:
        """Every page as a plotter draws it for ``plot``'s machine: the strokes in order and the pen-up travel."""
        settings = plot_settings(plot)
        return [plan_page(page, settings) for page in self.pages]

    def _repr_svg_(self) -> str:
        """Jupyter shows the first page inline."""
        return self.svgs[0]

    def save(self, path: str | Path, format: str | None = None, dpi: float = DEFAULT_DPI, **options: Any) -> list[Path]:
        """Write the document; returns the files written.

        PDF holds every page (and G-code whose plot settings pause between pages);
        the other formats write one file per page, named ``name-1.png``,
        ``name-2.png``, ... when there are several. The format comes from ``format``
        or the extension; ``options`` as for :meth:`render`. Every file is written
        to a temporary name and renamed, so a failure leaves no partial file.
        """
        path = checked_path(path)
        return save_files(path, self.render(output_format(format, path), dpi, **options))

    def to_bytes(self, format: str, dpi: float = DEFAULT_DPI, **options: Any) -> bytes:
        """The document as one byte string (for standard output): formats of one file per page need one page."""
        files = self.render(format, dpi, **options)
        if len(files) > 1:
            raise too_many_pages(len(files), 1, format.upper())
        return files[0]


@dataclass(frozen=True)
class AnimatedPage:
    """An animated SVG page; Jupyter shows it playing."""

    svg: str

    def _repr_svg_(self) -> str:
        return self.svg


def render_options(dpi: float, options: dict[str, Any]) -> RenderOptions:
    """:class:`RenderOptions` from keyword arguments, refusing unknown ones in the API's terms."""
    known = {f.name for f in fields(RenderOptions)} - {"dpi"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ScribeError(f"unknown option {unknown[0]!r}; the options are {', '.join(sorted(known))}")
    if "plot" in options:
        options = {**options, "plot": plot_settings(options["plot"])}
    return RenderOptions(dpi=dpi, **options)


def checked_path(path: object) -> Path:
    """``path`` as a Path that can take a file, refused in one line otherwise (before any work)."""
    if not isinstance(path, (str, Path)) or "\x00" in str(path):
        raise ScribeError(f"`path` must be a file name (a string or Path), not {path!r}")
    if isinstance(path, str) and not path.strip():
        raise ScribeError("`path` is empty; give a file name to write, e.g. 'note.png'")
    check_destination(Path(path))  # a folder is named as one, before its missing extension is
    return Path(path)


def check_destination(path: Path) -> None:
    """Refuse, before any work, a destination that cannot take a file: a folder, or one in a missing folder."""
    try:
        destination(path)  # a folder, a missing folder or standard input is refused here
    except OSError as exc:  # a name too long for the file system, a path through a file
        raise cannot_write(path, exc) from exc


def remove_stale_pages(path: Path, count: int) -> None:
    """Remove the numbered pages an earlier, longer document left beside this one's ``count`` pages.

    Only files scribe wrote (:func:`~scribe.writing.formats.written_by_scribe`) are
    removed, from the first number past this document on, until one is missing or
    not scribe's.
    """
    number = count + 1 if count > 1 else 1
    try:
        while (stale := path.with_name(f"{path.stem}-{number}{path.suffix}")).is_file() and written_by_scribe(stale):
            stale.unlink()
            number += 1
    except OSError:  # a numbered name too long for the file system: there is no such page
        return


def save_files(path: Path, files: list[bytes]) -> list[Path]:
    """Write a document's files at ``path`` (numbered where several), all or none, and drop stale pages beside them."""
    paths = page_paths(path, len(files))
    write_files(list(zip(paths, files)))
    remove_stale_pages(path, len(files))
    return paths


def page_paths(path: Path, count: int) -> list[Path]:
    """``path`` for one page; ``stem-1.ext``, ``stem-2.ext``, ... for several."""
    if count == 1:
        return [path]
    return [path.with_name(f"{path.stem}-{number}{path.suffix}") for number in range(1, count + 1)]


class Scribe:
    """A loaded handwriting model that writes documents."""

    def __init__(
        self,
        model: str | Path | InferenceModel = DEFAULT_MODEL,
        download_progress: ProgressFn = no_progress,
        reader: str | Path | InkReader = DEFAULT_RECOGNIZER,
    ) -> None:
        """``model``: a registry name, a model file or checkpoint, or an already loaded model.

        ``reader`` is the recognizer that verified writing reads candidates with (a name,
        a file, or a loaded one); it is loaded the first time a document is verified.
        """
        if not isinstance(model, InferenceModel):
            model = load_inference_model(resolve_model(model, download_progress))
        self.model: InferenceModel = model
        self._reader = reader
        self._download_progress = download_progress

    @property
    def reader(self) -> InkReader:
        """The recognizer of verified writing, loaded on first use."""
        if not isinstance(self._reader, InkReader):
            self._reader = InkReader.load(resolve_model(self._reader, self._download_progress))
        return self._reader

    @property
    def styles(self) -> list[int]:
        """The model's built-in styles (writer-style ids); ``style=N`` picks ``styles[N]``."""
        return self.model.builtin_styles

    def write(self, text: str, **options: Any) -> Document:
        """Write ``text`` as handwritten pages, all of them in one :class:`Document` (``options``: :meth:`write_pages`)."""
        return self.write_pages(text, **options).document()

    def write_pages(
        self,
        text: str,
        *,
        setup: PageSetup | None = None,
        style: int | None = None,
        style_seed: int | None = None,
        style_mix: StyleMix | None = None,
        style_temperature: float = 1.0,
        prime: tuple[np.ndarray, str] | None = None,
        bias: float = DEFAULT_BIAS,
        temperature: float = SamplingOptions.temperature,
        seed: int = 0,
        strict: bool = False,
        attempts: int = DEFAULT_ATTEMPTS,
        candidates: int = DEFAULT_CANDIDATES,
        max_pages: int | None = None,
        reflow: bool = True,
        progress: ProgressFn = no_progress,
        on_draft: DraftFn | None = None,
    ) -> PageStream:
        """Write ``text`` page by page: the page count at once, then each page as soon as its lines are written.

        The hand is ``style`` (a built-in style), ``style_seed`` (a new hand drawn with
        it), ``style_mix`` (a hand between two, :class:`~scribe.writing.styles.StyleMix`)
        or ``prime``, a sample of the user's handwriting (offsets in the model's units, see
        :mod:`scribe.writing.stylefile`) with its text; all lines share one style.
        ``style_temperature`` sets how far a drawn hand (any VAE hand) lies from the
        average one, which is 0 (:func:`~scribe.writing.styles.conditioning_for`).
        Every line is read back by :attr:`reader` and a misread one drawn again, up to
        ``candidates`` samples, the one likeliest to say its text kept (verified writing; 1 turns it off). A text that would
        fill more than ``max_pages`` pages is refused before any sampling. ``reflow``
        joins the lines of paragraphs an editor wrapped (:func:`scribe.ink.wrapping.split_paragraphs`);
        False keeps every line break of the text. ``on_draft`` sees each line as soon as it is
        written, placed alone on its page (:data:`~scribe.writing.pages.DraftFn`).
        Every argument is checked here, before any sampling.
        """
        check_arguments(text, seed, style, attempts, style_seed, candidates, strict, max_pages)
        if not isinstance(reflow, bool):
            raise ScribeError(f"`reflow` must be True or False, not {reflow!r}")
        _check_setup_and_prime(setup, prime, progress)
        setup = setup or PageSetup()
        setup.validate()
        fitted, substitutions = fit_to_alphabet(check_text(text), self.model.alphabet, strict=strict)
        conditioning = conditioning_for(self.model, style, style_seed, prime, style_mix, style_temperature)
        advance = style_advance(self.model, (style or 0) if conditioning.style_id is not None else None, style_mix)
        width_units = setup.wrap_width / estimated_line_width(1, setup, advance)  # in average characters
        items = wrap_text(fitted, width_units, relative_char_width, reflow)
        if all(item is None for item in items):
            raise ScribeError("nothing left to write once unsupported characters were dropped; check the text")
        options = SamplingOptions(bias=bias, temperature=temperature, conditioning=conditioning)
        plan = WritingPlan(items, setup, options, seed, attempts, candidates, self.reader if candidates > 1 else None)
        if max_pages is not None and plan.page_count > max_pages:
            raise too_many_pages(plan.page_count, max_pages)
        return PageStream(plan.page_count, setup, substitutions, written_pages(self.model, plan, progress, on_draft))


@dataclass
class PageStream:
    """A text's pages as they are written (:meth:`Scribe.write_pages`): how many there are, then each in turn."""

    count: int  # known from the wrapped text, before any sampling
    setup: PageSetup
    substitutions: list[Substitution]  # characters replaced to fit the model
    pages: Iterator[tuple[Page, list[SampledLine]]]  # each page with its lines, in order

    def documents(self) -> Iterator[Document]:
        """Each page as a one-page document; the first carries the substitutions."""
        for number, (page, lines) in enumerate(self.pages):
            yield Document([page], self.setup, lines, self.substitutions if number == 0 else [])

    def save(self, path: str | Path, format: str | None = None, dpi: float = DEFAULT_DPI, *,
             on_page: Callable[[Document], object] = lambda document: None, **options: Any) -> list[Path]:
        """Write the pages as :meth:`Document.save` does, each page's file as soon as the page is written.

        Pages of a format with a file per page are written to temporary names as they
        come and renamed together after the last, so a failure still leaves no new file;
        a format that holds every page in one file (PDF) draws each page as it comes,
        while the next are sampled, and saves the file after the last. ``on_page`` sees
        each written page (a one-page text: its whole document, once written).
        """
        path = checked_path(path)
        fmt = output_format(format, path)
        chosen = render_options(dpi, options)
        chosen.check(fmt, [self.setup.size], self.setup)
        if self.count == 1:
            on_page(document := self.document())
            return document.save(path, fmt.name, dpi, **options)
        if fmt.one_file(chosen):
            return save_files(path, fmt.render(self._pages_seen_by(on_page), self.setup, chosen))
        paths = page_paths(path, self.count)
        with ExitStack() as files:
            for target, document in zip(paths, self.documents()):
                files.enter_context(atomic_write(target)).write(document.render(fmt, dpi, **{**options, "fit": False})[0])
                on_page(document)
        remove_stale_pages(path, self.count)
        return paths

    def _pages_seen_by(self, on_page: Callable[[Document], object]) -> Iterator[Page]:
        """Each page as it is written, once ``on_page`` has seen it as a one-page document."""
        for document in self.documents():
            on_page(document)
            yield document.pages[0]

    def document(self, on_page: Callable[[Document], object] = lambda document: None) -> Document:
        """Every page in one document (waits for the last); ``on_page`` sees each page as it is written, as in :meth:`save`."""
        written = []
        for single in self.documents():
            on_page(single)
            written.append(single)
        return Document([single.pages[0] for single in written], self.setup,
                        [line for single in written for line in single.lines], self.substitutions)


def too_many_pages(pages: int, most: int, format: str = "SVG or PNG") -> ScribeError:
    """The error for a text longer than its destination holds: one SVG or PNG is one page, else ``max_pages``."""
    if most == 1:
        return ScribeError(f"the text fills {pages} pages and one {format} file holds one; write PDF or to files instead")
    return ScribeError(f"the text fills {pages} pages, more than the {most} of `max_pages`; shorten it or allow more pages")


def check_arguments(
    text: object,
    seed: object,
    style: object,
    attempts: object,
    style_seed: object,
    candidates: object,
    strict: object,
    max_pages: object,
) -> None:
    """Refuse arguments of the wrong type with a message in the API's terms (before any work)."""
    if not isinstance(text, str):
        raise ScribeError(f"`text` must be a string, not {type(text).__name__}")
    numbers = (
        ("seed", seed, 0, 2**32 - 1),
        ("attempts", attempts, 1, MAX_ATTEMPTS),
        ("candidates", candidates, 1, MAX_CANDIDATES),
        ("style_seed", 0 if style_seed is None else style_seed, 0, 2**32 - 1),
        ("max_pages", 1 if max_pages is None else max_pages, 1, 2**32 - 1),
    )
    for name, value, lowest, highest in numbers:
        if isinstance(value, bool) or not isinstance(value, Integral) or not lowest <= int(value) <= highest:
            raise ScribeError(f"`{name}` must be a whole number from {lowest} to {highest:,}, not {value!r}")
    if not isinstance(strict, bool):
        raise ScribeError(f"`strict` must be True or False, not {strict!r}")
    if style is not None and (isinstance(style, bool) or not isinstance(style, Integral)):
        raise ScribeError(f"`style` must be the number of a built-in style, not {style!r}")


def _check_setup_and_prime(setup: object, prime: object, progress: object) -> None:
    """Refuse a page setup, a style sample or a progress callback of the wrong kind, in the API's terms."""
    if setup is not None and not isinstance(setup, PageSetup):
        raise ScribeError(f"`setup` must be a PageSetup (scribe.writing.layout), not {type(setup).__name__}")
    if not callable(progress):
        raise ScribeError(f"`progress` must be a function of (done, total), not {type(progress).__name__}")
    if prime is None:
        return
    offsets, text = prime if isinstance(prime, tuple) and len(prime) == 2 else (None, None)
    if not isinstance(offsets, np.ndarray) or not isinstance(text, str) or validate_offsets(offsets) is not None:
        raise ScribeError("`prime` must be (offsets, text): a usable line in the stroke format and the text it shows")


#: Ordinary sentences each built-in style writes at export to measure its width.
CALIBRATION_TEXTS = [
    "The garden was quiet after the rain had stopped.",
    "Please bring two copies of the report on Monday.",
    "We walked along the river until the light faded.",
    "Her letter arrived with a small parcel of seeds.",
    "They talked about books, music and old friends.",
    "A cold wind came down from the hills that night.",
    "Nobody knew where the key to the shed had gone.",
    "The children painted the fence a bright yellow.",
]


def measure_style_advances(scribe: Scribe, seed: int = 0) -> list[float]:
    """Each built-in style's width per character in x-heights, measured on its own writing.

    A model without built-in styles gets one figure, for the hand it writes in by
    default (:func:`~scribe.writing.styles.conditioning_for`).

    Hands differ: the shipped styles span 1.5 to 2.1 x-heights per character around
    the dataset's 1.75. Wrapping with the style's own figure keeps its lines from
    ending early or running past the margin (and being shrunk to fit).
    """
    hands = [conditioning_for(scribe.model, index) for index in range(len(scribe.styles))] or [conditioning_for(scribe.model)]
    texts = [fit_to_alphabet(text, scribe.model.alphabet)[0] for text in CALIBRATION_TEXTS]
    advances = []
    for conditioning in hands:
        options = SamplingOptions(bias=DEFAULT_BIAS, conditioning=conditioning)
        widths = []
        for line in write_lines(scribe.model, texts, options, seed=seed):
            metrics = line_metrics(line.offsets)
            if own_size_trusted(metrics, line.text):
                widths.append((metrics.right - metrics.left) / len(line.text) / metrics.x_height)
        advances.append(median(widths) if widths else ADVANCE_PER_X_HEIGHT)
    return advances


def calibrate(model: StoredModel) -> list[float]:
    """Measure a writing model's style widths (:func:`measure_style_advances`) and keep them in ``model``."""
    model.style_advances = measure_style_advances(Scribe(InferenceModel(model)))
    return model.style_advances


def calibrate_model_file(path: Path) -> list[float]:
    """:func:`calibrate` a writing model file in place."""
    stored = StoredModel.load(path)
    advances = calibrate(stored)
    stored.save(path)
    return advances


@functools.lru_cache(maxsize=4)
def _scribe(model: str) -> Scribe:
    return Scribe(model)


def write(text: str, model: str | Path = DEFAULT_MODEL, **options: object) -> Document:
    """Write ``text`` with ``model`` (a registry name or a path); see :meth:`Scribe.write` for options."""
    return _scribe(str(model)).write(text, **options)
