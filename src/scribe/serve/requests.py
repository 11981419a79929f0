"""What a client may ask ``scribe serve`` for, checked before it costs anything, in the library's own terms.

Everything from the network is untrusted: a request names models only from the
registry (never a path), its numbers must be numbers of the right kind and range,
its text and its handwriting sample are capped (:data:`LIMITS`), and anything else
is refused with a one-line reason that the page shows as it is, before the request
waits for its turn. (Only what needs the model, such as a style number beyond its
styles or a sample's strokes, is found in its turn and ends its stream with an error.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from scribe.errors import ScribeError
from scribe.writing.document import check_arguments
from scribe.writing.layout import PAGE_SIZES, PageSetup
from scribe.writing.registry import DEFAULT_MODEL, REGISTRY
from scribe.writing.sampling import DEFAULT_ATTEMPTS, DEFAULT_BIAS, DEFAULT_CANDIDATES, SamplingOptions
from scribe.writing.stored import KINDS
from scribe.writing.stylefile import MAX_STYLE_POINTS, MAX_STYLE_TEXT_CHARS


@dataclass(frozen=True)
class Limits:
    """How much one request may ask of the server, and how much work it takes on at once."""

    body_bytes: int = 1_000_000  # a request's JSON; a captured sample of 20,000 points is about 400 kB
    text_chars: int = 4_000  # about two A4 pages of handwriting
    pages: int = 4
    sample_points: int = MAX_STYLE_POINTS  # priming runs every point through the network
    candidates: int = 5  # verified writing's samples of a line: more would make one page's check minutes long
    waiting: int = 4  # requests queued behind the writing in progress; more are refused with 503
    seconds: float = 120.0  # from arrival: a writing still going after this stops at its next line or page
    body_seconds: float = 10.0  # to send a request's body: a trickle would hold its memory indefinitely
    documents: int = 16  # finished documents kept for download, the oldest dropped first


LIMITS = Limits()
#: Page sizes the page offers: "auto" is scribe write's default (A4 paper; SVG, PNG and GIF cropped to the ink).
PAGE_CHOICES = ("auto", *PAGE_SIZES)
SAMPLE_SHAPE = '{"text": "...", "strokes": [[[x, y], ...], ...], "times_ms": [[t, ...], ...]}'


@dataclass(frozen=True)
class WriteRequest:
    """One writing, as the library takes it: the text, the model, the hand and the page."""

    text: str
    model: str = DEFAULT_MODEL
    style: int | None = None
    style_seed: int | None = None
    bias: float = DEFAULT_BIAS
    seed: int = 0
    candidates: int = DEFAULT_CANDIDATES
    page: str = "auto"
    line_spacing: float = PageSetup.line_spacing
    ink: str = PageSetup.ink
    sample: bytes | None = field(default=None, repr=False)  # a captured sample, as a style JSON file's bytes

    @property
    def setup(self) -> PageSetup:
        """The page to write on, checked (a bad colour or size is refused here, as ``scribe write`` refuses it)."""
        paper = PAGE_SIZES["a4" if self.page == "auto" else self.page]
        setup = PageSetup(size=paper, line_spacing=self.line_spacing, ink=self.ink)
        setup.validate()
        return setup


def writer_names() -> list[str]:
    """The registered models that write, the default first."""
    names = [name for name, entry in REGISTRY.items() if KINDS[entry.kind].writes]
    return sorted(names, key=lambda name: name != DEFAULT_MODEL)


def parse_json(body: bytes) -> dict[str, Any]:
    """A request body that must be one JSON object."""
    try:
        content = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ScribeError(f"the request is not JSON ({exc}); send one JSON object") from None
    if not isinstance(content, dict):
        raise ScribeError("the request must be one JSON object, such as {\"text\": \"hello\"}")
    return content


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


_FIELDS: dict[str, tuple[type | tuple[type, ...], bool]] = {  # name: (JSON type, may be null)
    "text": (str, False), "model": (str, False), "style": (int, True), "style_seed": (int, True),
    "bias": ((int, float), False), "seed": (int, False), "candidates": (int, False), "page": (str, False),
    "line_spacing": ((int, float), False), "ink": (str, False), "sample": (dict, True),
}


def write_request(content: dict[str, Any], limits: Limits = LIMITS) -> WriteRequest:
    """A :class:`WriteRequest` from a client's JSON object; unknown fields, wrong types and values out of range are refused."""
    unknown = sorted(set(content) - set(_FIELDS))
    if unknown:
        raise ScribeError(f"unknown field {unknown[0]!r}; the fields are {', '.join(_FIELDS)}")
    for name, value in content.items():
        kind, nullable = _FIELDS[name]
        wrong = isinstance(value, bool) or not isinstance(value, kind)  # JSON's true is a Python int, but not a number
        if (value is None and not nullable) or (value is not None and wrong):
            allowed = _kind_name(kind) + (" or null" if nullable else "")
            raise ScribeError(f"`{name}` must be {allowed}, not {json.dumps(value)[:40]}")
    if "text" not in content or not content["text"].strip():
        raise ScribeError("`text` is missing or empty: send the text to write")
    if len(content["text"]) > limits.text_chars:
        raise ScribeError(f"the text has {len(content['text']):,} characters; the server writes at most {limits.text_chars:,}")
    if content.get("model", DEFAULT_MODEL) not in writer_names():
        raise ScribeError(f"unknown model {content['model']!r}; choose one of {', '.join(writer_names())}")
    if content.get("page", "auto") not in PAGE_CHOICES:
        raise ScribeError(f"unknown page {content['page']!r}; choose one of {', '.join(PAGE_CHOICES)}")
    if not 1 <= content.get("candidates", 1) <= limits.candidates:
        raise ScribeError(f"`candidates` must be from 1 to {limits.candidates} here, not {content['candidates']}")
    sample = content.pop("sample", None)
    request = WriteRequest(**content, sample=None if sample is None else sample_bytes(sample, limits))
    check_arguments(request.text, request.seed, request.style, DEFAULT_ATTEMPTS, request.style_seed, request.candidates,
                    False, limits.pages)
    SamplingOptions(bias=request.bias)  # refuses a bias out of range
    request.setup  # noqa: B018  (checks the page's numbers and colour)
    return request


def _kind_name(kind: type | tuple[type, ...]) -> str:
    """How an error names a JSON type: a tuple is (int, float), a number."""
    return "a number" if isinstance(kind, tuple) else {str: "a string", int: "a whole number", dict: "an object"}[kind]


def sample_bytes(sample: dict[str, Any], limits: Limits = LIMITS) -> bytes:
    """A captured sample (``{"text", "strokes", "times_ms"}``) as the bytes of a style JSON file, its size checked.

    The strokes themselves are checked where every style file is read
    (:func:`scribe.writing.stylefile.read_style_bytes`): pairs of finite numbers, at
    most :attr:`Limits.sample_points` of them.
    """
    strokes, text = sample.get("strokes"), sample.get("text")
    if not isinstance(text, str) or not isinstance(strokes, list):
        raise ScribeError(f"a handwriting sample is {SAMPLE_SHAPE}")
    if len(text) > MAX_STYLE_TEXT_CHARS:
        raise ScribeError(f"the sample's text has {len(text):,} characters; one line of handwriting has at most "
                          f"{MAX_STYLE_TEXT_CHARS}")
    points = sum(len(stroke) if isinstance(stroke, list) else 1 for stroke in strokes)
    if points > limits.sample_points:
        raise ScribeError(f"the sample has {points:,} points; a line of handwriting needs at most {limits.sample_points:,}")
    return json.dumps({key: sample[key] for key in ("text", "strokes", "times_ms") if key in sample}).encode()
