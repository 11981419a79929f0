"""HTTP transfer of one file: resumable, bounded in time and size, verified before it is used.

Dataset archives are large and hosted on university servers that drop connections,
stall, or answer with a login page, so a download is written to ``<file>.part``,
resumed with an HTTP Range request (within one run through retries, across runs by
running the command again) and moved into place only once its size and checksum
(when known) match. Beside the part file, ``<file>.part.json`` keeps the server's
validator (ETag or Last-Modified) so that a resume sends ``If-Range`` and a file
that changed on the server restarts from its first byte instead of being spliced.

The body is read as raw bytes, never content-decoded: a ``.tar.gz`` served with
``Content-Encoding: gzip`` must land on disk as the server holds it. A server that
stops sending, or trickles fewer than :data:`STALL_BYTES` per ``stall_seconds``,
fails the attempt instead of keeping the command busy for ever, and a body longer
than the declared size (or :data:`MAX_DOWNLOAD_BYTES` when none is declared) is cut
off and removed.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import ReadTimeoutError

from scribe.errors import ScribeError
from scribe.progress import ProgressFn, no_progress

CHUNK_SIZE = 1 << 16
HASH_CHUNK_SIZE = 1 << 20
# A 429 (rate limited) is as transient as a server error, so it is retried too.
RETRY_STATUSES = frozenset({429}) | frozenset(range(500, 600))
#: Most bytes one download may have when its size is not declared: above any dataset archive
#: (the largest is a few GB), low enough that an endless body cannot fill the disk.
MAX_DOWNLOAD_BYTES = 8 << 30
#: A body arriving slower than this many bytes per ``stall_seconds`` counts as stalled:
#: 1 KiB per 30 s is far below any working connection, far above a trickling server.
STALL_BYTES = 1 << 10
STALL_SECONDS = 30.0
#: Names a server may answer with a web page for (a login or error page) instead of the file.
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar", ".npz")
_FROM_FILE_HINT = "download it in a browser and pass it in `from_files`"

# What a broken connection surfaces as while the body streams from the raw response.
_CUT = (Urllib3Error, http.client.HTTPException, OSError)
_DNS_FAILURES = ("failed to resolve", "name or service not known", "nodename nor servname", "getaddrinfo")


class ChecksumMismatch(ScribeError):
    """The downloaded file is not the expected one; callers that know where the checksum came from add advice."""


class _Retryable(Exception):
    """A transient failure; its message is what the user sees if every retry fails too."""


# --------------------------------------------------------------------------- files beside the download


def sha256_file(path: Path) -> str:
    """SHA256 hex digest of a file, read in chunks so multi-GB archives fit in memory."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(HASH_CHUNK_SIZE), b""):
            digest.update(block)
    return digest.hexdigest()


def part_path(dest: Path) -> Path:
    """Where an unfinished download of ``dest`` lives, so the next attempt can resume it."""
    return dest.with_name(dest.name + ".part")


def _validator_path(dest: Path) -> Path:
    """Where the server's validator for ``dest``'s part file is kept."""
    return dest.with_name(dest.name + ".part.json")


def discard_partial(dest: Path) -> None:
    """Remove an unfinished download of ``dest`` and its validator: the next attempt starts from byte 0."""
    part_path(dest).unlink(missing_ok=True)
    _validator_path(dest).unlink(missing_ok=True)


def write_failed(path: Path, exc: OSError, resumes: bool = False) -> ScribeError:
    """A one-line error for a folder that refused a file: full, read-only, or not a folder at all."""
    if exc.errno == errno.ENOSPC:
        kept = "; the partial download is kept and will resume" if resumes else ""
        return ScribeError(f"disk full while writing {path}: free some space and run again{kept}")
    if isinstance(exc, IsADirectoryError):
        return ScribeError(f"cannot write {path}: a folder of that name is in the way; move it away and run again")
    return ScribeError(
        f"cannot write {path} ({exc.strerror or exc}): make {path.parent} a folder you can write, "
        "or set SCRIBE_HOME to one"
    )


@contextmanager
def writing(path: Path, resumes: bool = False) -> Iterator[None]:
    """Turn an OS error while writing ``path`` into :func:`write_failed`'s one-line error."""
    try:
        yield
    except OSError as exc:
        raise write_failed(path, exc, resumes) from exc


def _stored_validator(dest: Path) -> str | None:
    """The validator saved with ``dest``'s part file; None when absent or unreadable (resumed unchecked)."""
    try:
        value = json.loads(_validator_path(dest).read_text(encoding="utf-8")).get("validator")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _remember_validator(dest: Path, response: requests.Response) -> None:
    """Save the validator of a full body about to be written; a weak ETag cannot be used in If-Range."""
    etag = response.headers.get("ETag", "")
    validator = etag if etag and not etag.startswith("W/") else response.headers.get("Last-Modified")
    path = _validator_path(dest)
    with writing(path):
        if validator:
            path.write_text(json.dumps({"validator": validator}), encoding="utf-8")
        else:
            path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- one transfer


@dataclass(frozen=True)
class _Transfer:
    """Everything one download needs, so each step takes one argument."""

    url: str
    dest: Path
    size: int | None
    max_bytes: int
    stall_seconds: float
    connect_timeout: float
    progress: ProgressFn
    registration: str | None
    session: requests.Session

    @property
    def part(self) -> Path:
        return part_path(self.dest)

    @property
    def limit(self) -> int:
        """The most bytes the file may have: its declared size, else the general cap."""
        return self.size if self.size is not None else self.max_bytes


class _StallWatch:
    """Tells a trickling server from a slow-but-working one: under STALL_BYTES per window is a stall.

    The socket's read timeout only catches a server that sends nothing at all; one
    that sends a byte every few seconds would otherwise keep the command busy for ever.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.since = time.monotonic()
        self.count = 0

    def too_slow(self, count: int) -> bool:
        """Count ``count`` new bytes; True when a whole window passed with too few."""
        self.count += count
        now = time.monotonic()
        if now - self.since < self.seconds:
            return False
        slow = self.count < STALL_BYTES
        self.since, self.count = now, 0
        return slow


def _connect_reason(exc: requests.RequestException) -> str:
    """A short cause for a failed connection: requests' own text spans whole exception chains."""
    text = str(exc).lower()
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS/SSL error"
    if any(s in text for s in _DNS_FAILURES):
        return "host name not found"
    if "refused" in text:
        return "connection refused"
    return type(exc).__name__


def _request(t: _Transfer, headers: dict[str, str]) -> requests.Response:
    """Send the GET; a silent server is told apart from one that cannot be reached."""
    host = urlsplit(t.url).hostname or t.url
    try:
        return t.session.get(t.url, headers=headers, stream=True, timeout=(t.connect_timeout, t.stall_seconds))
    except requests.exceptions.ReadTimeout as exc:
        raise _Retryable(
            f"the server at {host} stopped sending data (nothing for {t.stall_seconds:g} s after connecting): "
            "try again later or pass a mirror in `urls`"
        ) from exc
    except requests.TooManyRedirects as exc:
        raise ScribeError(f"too many redirects for {t.url} (a redirect loop, or a login page?); {_FROM_FILE_HINT}") from exc
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise _Retryable(
            f"could not connect to {host} ({_connect_reason(exc)}): check your network connection or pass `from_files`"
        ) from exc
    except requests.RequestException as exc:
        raise ScribeError(f"cannot download {t.url!r} ({type(exc).__name__}): pass a full http(s):// URL") from exc


def _check_status(response: requests.Response, t: _Transfer) -> None:
    """Turn an HTTP error status into a one-line error, or a retry for transient ones."""
    status = response.status_code
    if status < 400:
        return
    if status in RETRY_STATUSES:
        raise _Retryable(f"server error (HTTP {status}) for {t.url}: try again later or pass a mirror in `urls`")
    if status in (401, 403):
        hint = t.registration or f"the file needs a registration or login; {_FROM_FILE_HINT}"
        if "`from_files`" not in hint:  # a caller's registration sentence may not say how to proceed
            hint = f"{hint}; {_FROM_FILE_HINT}"
        raise ScribeError(f"access denied (HTTP {status}) for {t.url}: {hint}")
    if status == 404:
        raise ScribeError(f"not found (404): {t.url}; the file may have moved, pass a mirror in `urls`")
    raise ScribeError(f"HTTP {status} {response.reason} for {t.url}: check the URL or pass a mirror in `urls`")


def _check_not_a_page(response: requests.Response, t: _Transfer) -> None:
    """Refuse a web page served for an archive: a login page saved as a .zip only fails later, obscurely."""
    kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if kind == "text/html" and t.dest.name.lower().endswith(ARCHIVE_SUFFIXES):
        raise ScribeError(f"the server sent a web page instead of {t.dest.name} (a login page?); {_FROM_FILE_HINT}")


def _content_range(response: requests.Response) -> tuple[int | None, int | None]:
    """``(first byte, total size)`` from a ``Content-Range`` header; None where absent or ``*``."""
    match = re.match(r"bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)", response.headers.get("Content-Range", ""))
    if not match:
        return None, None
    start, total = match.groups()
    return (int(start) if start else None), (int(total) if total and total != "*" else None)


def _content_length(response: requests.Response) -> int | None:
    """The body size the server announced, if any: a shorter body then means a cut transfer."""
    value = response.headers.get("Content-Length", "")
    return int(value) if value.isdigit() else None


def _size_refused(t: _Transfer, total: int | None = None) -> ScribeError:
    """The error for a file of the wrong size or over the cap (its part file is removed: it is no use to resume)."""
    if t.size is not None:
        has = f"the server has {total:,}" if total is not None else "the server sends more"
        return ScribeError(
            f"size mismatch for {t.dest.name}: expected {t.size:,} bytes, {has}; "
            "check the URL or pass a mirror in `urls`"
        )
    return ScribeError(
        f"{t.url} is larger than the {t.max_bytes:,} bytes allowed for one download; "
        f"check the URL, or {_FROM_FILE_HINT}"
    )


def _cut_message(t: _Transfer, done: int, total: int | None, why: str) -> str:
    """What to tell the user when a transfer stops early: how far it got and that running again resumes."""
    of_total = f" of {total:,}" if total is not None else ""
    return (
        f"download of {t.url} was interrupted after {done:,}{of_total} bytes ({why}); "
        f"run the same command again to resume from {t.part}"
    )


def _next_chunk(response: requests.Response, t: _Transfer, done: int, total: int | None, watch: _StallWatch) -> bytes:
    """The next raw piece of the body (b"" at its end): never content-decoded, so the file is the server's."""
    try:
        chunk: bytes = response.raw.read1(CHUNK_SIZE, decode_content=False)
    except ReadTimeoutError as exc:
        raise _Retryable(_cut_message(t, done, total, "the server stopped sending data")) from exc
    except _CUT as exc:
        raise _Retryable(_cut_message(t, done, total, "connection lost")) from exc
    if chunk and watch.too_slow(len(chunk)):
        why = f"the server sends data too slowly: under {STALL_BYTES:,} bytes in {t.stall_seconds:g} s"
        raise _Retryable(_cut_message(t, done + len(chunk), total, why))
    return chunk


def _stream_body(response: requests.Response, t: _Transfer, offset: int, total: int | None) -> None:
    """Append the body to the part file (which holds ``offset`` bytes); a cut transfer keeps what arrived."""
    done = offset
    t.progress(done, total)
    watch = _StallWatch(t.stall_seconds)
    with writing(t.part, resumes=True), t.part.open("ab" if offset else "wb") as fh:
        while chunk := _next_chunk(response, t, done, total, watch):
            done += len(chunk)
            if done > t.limit:
                break
            fh.write(chunk)
            t.progress(done, total)
    if done > t.limit:
        discard_partial(t.dest)
        raise _size_refused(t)
    if total is not None and done < total:
        raise _Retryable(_cut_message(t, done, total, "connection closed early"))


def _resume_headers(t: _Transfer, offset: int) -> dict[str, str]:
    """Request headers: raw bytes, and from ``offset`` on only if the file is still the one the part began."""
    headers = {"Accept-Encoding": "identity"}  # byte offsets must match the bytes on disk
    if offset:
        headers["Range"] = f"bytes={offset}-"
        validator = _stored_validator(t.dest)
        if validator is not None:  # a changed file then comes whole (200), not as a mismatched tail
            headers["If-Range"] = validator
    return headers


def _attempt(t: _Transfer) -> int | None:
    """One request: resume or restart the part file; returns the total size when the server told it."""
    offset = t.part.stat().st_size if t.part.is_file() else 0
    if offset > t.limit:  # longer than the file can be: not a prefix of it
        discard_partial(t.dest)
        offset = 0
    with _request(t, _resume_headers(t, offset)) as response:
        if response.status_code == 416 and offset:
            total = _content_range(response)[1] or t.size
            if total == offset:  # the previous run received everything but was stopped before the rename
                t.progress(offset, total)
                return total
            discard_partial(t.dest)  # not a prefix of this file: start over
            return _attempt(t)
        _check_status(response, t)
        _check_not_a_page(response, t)
        if response.status_code == 206:
            start, total = _content_range(response)
            if start != offset:
                discard_partial(t.dest)
                raise _Retryable(f"{t.url} answered with the wrong byte range; run the same command again")
        else:  # a full body: a fresh start, a changed file (If-Range), or a server ignoring Range
            offset, total = 0, _content_length(response)
        if total is not None and (total > t.limit or (t.size is not None and total != t.size)):
            discard_partial(t.dest)  # refused before a byte is streamed
            raise _size_refused(t, total)
        if not offset:
            _remember_validator(t.dest, response)
        _stream_body(response, t, offset, total)
        return total


def _verify(t: _Transfer, size: int | None, sha256: str | None) -> None:
    """Remove the part file and fail if it is not the expected file, so a bad file is never used."""
    actual_size = t.part.stat().st_size
    if size is not None and actual_size != size:
        discard_partial(t.dest)
        raise ScribeError(
            f"size mismatch for {t.dest.name}: expected {size:,} bytes, got {actual_size:,}; "
            "the file was removed: run again to retry, or check the URL"
        )
    if sha256 is not None:
        actual = sha256_file(t.part)
        if actual != sha256.lower():
            discard_partial(t.dest)
            raise ChecksumMismatch(
                f"checksum mismatch for {t.dest.name}: expected sha256 {sha256.lower()}, got {actual}; "
                "the file was removed: run again to retry"
            )


def _with_retries(attempt: Callable[[], int | None], retries: int, backoff: float) -> int | None:
    """Run ``attempt`` until it succeeds or ``retries`` extra tries failed with a transient error."""
    for tries in range(retries + 1):
        if tries:
            time.sleep(backoff * 2 ** (tries - 1))
        try:
            return attempt()
        except _Retryable as exc:
            last = exc
    raise ScribeError(str(last)) from last


def download_file(
    url: str,
    dest: Path,
    *,
    sha256: str | None = None,
    size: int | None = None,
    progress: ProgressFn = no_progress,
    session: requests.Session | None = None,
    connect_timeout: float = 10.0,
    stall_seconds: float = STALL_SECONDS,
    max_bytes: int = MAX_DOWNLOAD_BYTES,
    retries: int = 5,
    backoff: float = 1.0,
    registration: str | None = None,
) -> Path:
    """Download ``url`` to ``dest``, resuming ``dest.part`` and verifying before the rename.

    Connection errors, stalls (nothing, or under :data:`STALL_BYTES`, within
    ``stall_seconds``), cut transfers and 5xx replies are retried ``retries`` times
    with exponential backoff (``backoff``, ``2*backoff``, ...), each retry resuming
    from what is already on disk. The file may not exceed ``size`` when given, else
    ``max_bytes``. ``registration`` is shown on 401/403. Returns ``dest``; raises
    :class:`ScribeError` on failure (:class:`ChecksumMismatch` for a wrong
    ``sha256``), keeping the ``.part`` of an interrupted transfer so that running
    again resumes it.
    """
    dest = Path(dest)
    with writing(dest.parent):
        dest.parent.mkdir(parents=True, exist_ok=True)
    http = session if session is not None else requests.Session()
    t = _Transfer(url, dest, size, max_bytes, stall_seconds, connect_timeout, progress, registration, http)
    try:
        total = _with_retries(lambda: _attempt(t), retries, backoff)
    finally:
        if session is None:
            http.close()
    _verify(t, size if size is not None else total, sha256)
    with writing(dest):
        os.replace(t.part, dest)
    discard_partial(dest)  # the validator: the part file is gone already
    return dest
