"""Writing for the server: one job at a time on one worker thread, its events streamed as they happen.

Sampling keeps both cores busy on its own, so two writings at once would only
make each slower: jobs take turns on a single worker thread, at most
:attr:`~scribe.serve.requests.Limits.waiting` wait behind the one running, and
more are refused at once (:class:`Busy`) rather than queued without end. A job
stops at its next line once its client has gone or its time is up. Finished
documents are kept, a bounded number, for their downloads.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from scribe.errors import ScribeError
from scribe.writing.document import Document, Scribe
from scribe.writing.layout import PlacedLine
from scribe.writing.stylefile import read_style_bytes

from .requests import LIMITS, Limits, WriteRequest

Event = dict[str, Any]
Result = TypeVar("Result")


class Busy(Exception):
    """Every place in line is taken: the client should try again shortly (HTTP 503)."""


class _Stopped(Exception):
    """The job's client went away or its time ran out."""


@dataclass
class Kept:
    """A finished document and the page choice it was written for (``auto`` crops SVG, PNG and GIF to the ink)."""

    document: Document
    page: str


def placed_strokes(line: PlacedLine) -> list[list[list[float]]]:
    """A placed line's strokes as JSON: [x, y] in mm, y down, to a hundredth of a millimetre."""
    return [np.round(stroke, 2).tolist() for stroke in line.strokes]


class WritingService:
    """The server's writer: models loaded once, jobs in turn, documents kept for download."""

    def __init__(self, make_scribe: Callable[[str], Scribe] = Scribe, limits: Limits = LIMITS) -> None:
        self._make_scribe = make_scribe
        self.limits = limits
        self._scribes: dict[str, Scribe] = {}
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scribe-writer")
        self._in_line = 0  # jobs running or waiting; changed only on the event loop's thread
        self._documents: OrderedDict[str, Kept] = OrderedDict()
        self._documents_lock = threading.Lock()

    def scribe(self, model: str) -> Scribe:
        """The loaded model called ``model`` (on the worker thread, or before the server starts)."""
        if model not in self._scribes:
            self._scribes[model] = self._make_scribe(model)
        return self._scribes[model]

    @property
    def in_line(self) -> int:
        """Jobs running or waiting now."""
        return self._in_line

    def admit(self) -> None:
        """Take a place in line for one job (called on the event loop), or raise :class:`Busy`."""
        if self._in_line > self.limits.waiting:
            raise Busy(f"{self._in_line} jobs are running or waiting; try again in a few seconds")
        self._in_line += 1

    async def run(self, work: Callable[[], Result]) -> Result:
        """``work`` on the worker thread, in its turn, holding a place taken with :meth:`admit`.

        The place is given back when the work has really ended (or was dropped unstarted),
        not when its caller stops waiting: a client that leaves does not free the worker.
        """
        loop = asyncio.get_running_loop()
        future = self._worker.submit(work)
        future.add_done_callback(lambda _: None if loop.is_closed() else loop.call_soon_threadsafe(self._give_back))
        return await asyncio.wrap_future(future)

    def _give_back(self) -> None:
        self._in_line -= 1

    def kept(self, document_id: str) -> Kept | None:
        with self._documents_lock:
            return self._documents.get(document_id)

    def _keep(self, kept: Kept) -> str:
        document_id = secrets.token_hex(12)
        with self._documents_lock:
            self._documents[document_id] = kept
            while len(self._documents) > self.limits.documents:
                self._documents.popitem(last=False)
        return document_id

    async def events(self, request: WriteRequest) -> AsyncIterator[str]:
        """The job's events as lines of JSON, as they happen; the job stops if the client stops reading."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Event] = asyncio.Queue()
        gone = threading.Event()
        deadline = time.monotonic() + self.limits.seconds

        def emit(event: Event) -> None:
            if gone.is_set() or time.monotonic() > deadline:
                raise _Stopped("the client has gone" if gone.is_set() else f"it took over {self.limits.seconds:g} s")
            loop.call_soon_threadsafe(queue.put_nowait, event)

        job = asyncio.ensure_future(self.run(lambda: self._write(request, emit, loop, queue)))
        try:
            while True:
                event = await queue.get()
                yield _json_line(event)
                if event["event"] in ("done", "error"):
                    break
        finally:
            gone.set()  # a job still waiting is skipped, a running one stops at its next line
            if not job.done():
                job.cancel()  # drops a job still waiting; the worker thread ends a running one itself

    def _write(self, request: WriteRequest, emit: Callable[[Event], None], loop: asyncio.AbstractEventLoop,
               queue: asyncio.Queue[Event]) -> None:
        """One writing, on the worker thread: every event goes through ``emit``; the last is always done or error."""
        def last(event: Event) -> None:  # an ending is queued even when emit would refuse it
            loop.call_soon_threadsafe(queue.put_nowait, {"event": "error", **event})

        started = time.monotonic()
        try:
            emit({"event": "started"})
            document = self._document(request, emit)
            emit({"event": "done", "document": self._keep(Kept(document, request.page)), "pages": len(document.pages),
                  "seconds": round(time.monotonic() - started, 2), "warnings": line_warnings(document)})
        except _Stopped as exc:
            last({"message": f"the writing was stopped: {exc}"})
        except ScribeError as exc:
            last({"message": str(exc)})
        except Exception as exc:  # a bug: the client hears of it, the server's log keeps the traceback, the server goes on
            logging.getLogger(__name__).exception("writing failed")
            last({"message": f"the server failed to write this ({type(exc).__name__}); its log has the details"})

    def _document(self, request: WriteRequest, emit: Callable[[Event], None]) -> Document:
        """Write ``request``, emitting each line's draft as soon as it is written and each page once it is final."""
        scribe = self.scribe(request.model)
        prime = None
        if request.sample is not None:
            prime = read_style_bytes(request.sample, ".json", "(the handwriting sample)", None, scribe.model)
        stream = scribe.write_pages(
            request.text, setup=request.setup, style=request.style, style_seed=request.style_seed, prime=prime,
            bias=request.bias, seed=request.seed, candidates=request.candidates, max_pages=self.limits.pages,
            on_draft=lambda page, line: emit({"event": "draft", "page": page, "strokes": placed_strokes(line)}),
        )
        emit({"event": "pages", "count": stream.count, "width": stream.setup.size[0], "height": stream.setup.size[1],
              "substitutions": [str(change) for change in stream.substitutions]})
        numbers = itertools.count()
        return stream.document(on_page=lambda single: emit({"event": "page", "page": next(numbers), "svg": single.svgs[0]}))


def _json_line(event: Event) -> str:
    return json.dumps(event, separators=(",", ":")) + "\n"


def line_warnings(document: Document) -> list[str]:
    """What ``scribe write`` would warn about the document's lines, one string per line concerned."""
    warnings = []
    for number, line in enumerate(document.lines, 1):
        if line.problems:
            warnings.append(f"line {number} may be hard to read: {', '.join(line.problems)}")
        elif line.misread:
            warnings.append(f"line {number} may have a slip: the reader read {line.reading!r}")
    return warnings
