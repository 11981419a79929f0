"""Dataset download: resumable verified downloads of the files a dataset's spec names, then safe extraction.

Dataset archives are large and hosted on university servers that drop connections,
so a download is written to ``<file>.part``, resumed with an HTTP Range request
(within one run through retries, across runs by running the command again) and moved
into place only once its size and checksum (when known) match. What to fetch, the
registration note shown on 401/403 and the check of the extracted files come from
the dataset's :class:`~scribe.datasets.spec.DatasetSpec`; extraction is
:mod:`scribe.datasets.extract`'s, which refuses any member that could write
outside the target folder.

Everything a user can fix is raised as a one-line :class:`~scribe.errors.ScribeError`;
progress goes through :data:`~scribe.progress.ProgressFn` callbacks and results are
returned, never printed.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import os
import posixpath
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import requests
from urllib3.exceptions import ProtocolError

from scribe.datasets import dataset_spec
from scribe.datasets.extract import extract_archive
from scribe.datasets.spec import DatasetSpec
from scribe.errors import ScribeError
from scribe.paths import downloads_dir, raw_dir
from scribe.progress import ProgressFactory, ProgressFn, no_progress

CHUNK_SIZE = 1 << 16
HASH_CHUNK_SIZE = 1 << 20
# A 429 (rate limited) is as transient as a server error, so it is retried too.
RETRY_STATUSES = frozenset({429}) | frozenset(range(500, 600))
MARKER_PREFIX = ".extracted-"



@dataclass(frozen=True)
class DownloadedFile:
    """What happened to one archive: ``action`` is "downloaded", "already present" or "imported"."""

    filename: str
    path: Path
    action: str
    sha256: str
    bytes: int


@dataclass(frozen=True)
class DownloadReport:
    """The result of :func:`download_dataset`; ``extracted`` counts the files now under ``raw_dir``."""

    name: str
    files: list[DownloadedFile]
    raw_dir: Path
    extracted: int


# --------------------------------------------------------------------------- hashing


def sha256_file(path: Path) -> str:
    """SHA256 hex digest of a file, read in chunks so multi-GB archives fit in memory."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(HASH_CHUNK_SIZE), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- download


class _Retryable(Exception):
    """A transient failure; its message is what the user sees if every retry fails too."""


def _part_path(dest: Path) -> Path:
    """Where an unfinished download of ``dest`` lives, so the next attempt can resume it."""
    return dest.with_name(dest.name + ".part")


def _disk_full(path: Path) -> ScribeError:
    """The error for a full disk: the part file is kept, so saying it resumes tells the user not to delete it."""
    return ScribeError(
        f"disk full while writing {path}: free some space and run again; "
        "the partial download is kept and will resume"
    )


_DNS_FAILURES = ("failed to resolve", "name or service not known", "nodename nor servname", "getaddrinfo")
# What a broken connection surfaces as while the body streams: requests wraps most of urllib3's,
# but an IncompleteRead (urllib3's subclasses http.client's) can escape unwrapped.
_CUT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    ProtocolError,
    http.client.IncompleteRead,
)
_FROM_FILE_HINT = "download it in a browser and pass it in `from_files`"


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


def _check_status(response: requests.Response, url: str, registration: str | None) -> None:
    """Turn an HTTP error status into a one-line error, or a retry for transient ones."""
    status = response.status_code
    if status < 400:
        return
    if status in RETRY_STATUSES:
        raise _Retryable(f"server error (HTTP {status}) for {url}: try again later or pass a mirror in `urls`")
    if status in (401, 403):
        hint = registration or f"the file needs a registration or login; {_FROM_FILE_HINT}"
        if "`from_files`" not in hint:  # a caller's registration sentence may not say how to proceed
            hint = f"{hint}; {_FROM_FILE_HINT}"
        raise ScribeError(f"access denied (HTTP {status}) for {url}: {hint}")
    if status == 404:
        raise ScribeError(f"not found (404): {url}; the file may have moved, pass a mirror in `urls`")
    raise ScribeError(f"HTTP {status} {response.reason} for {url}: check the URL or pass a mirror in `urls`")


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


def _stream_body(
    response: requests.Response, part: Path, offset: int, total: int | None, url: str, progress: ProgressFn
) -> None:
    """Append the body to ``part`` (which holds ``offset`` bytes); a cut transfer keeps what arrived."""
    done = offset
    progress(done, total)
    try:
        with part.open("ab" if offset else "wb") as fh:
            for chunk in response.iter_content(CHUNK_SIZE):
                fh.write(chunk)
                done += len(chunk)
                progress(done, total)
    except _CUT as exc:
        raise _Retryable(_cut_message(url, part, part.stat().st_size, total, "connection lost")) from exc
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise _disk_full(part) from exc
        raise
    if total is not None and done < total:
        raise _Retryable(_cut_message(url, part, done, total, "connection closed early"))


def _cut_message(url: str, part: Path, done: int, total: int | None, why: str) -> str:
    """What to tell the user when a transfer stops early: how far it got and that running again resumes."""
    of_total = f" of {total:,}" if total is not None else ""
    return (
        f"download of {url} was interrupted after {done:,}{of_total} bytes ({why}); "
        f"run the same command again to resume from {part}"
    )


def _attempt(
    session: requests.Session,
    url: str,
    part: Path,
    size: int | None,
    timeout: tuple[float, float],
    progress: ProgressFn,
    registration: str | None,
) -> int | None:
    """One request: resume or restart ``part``; returns the total size when the server told it."""
    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:  # longer than the file can be: not a prefix of it
        part.unlink()
        offset = 0
    headers = {"Accept-Encoding": "identity"}  # byte offsets must match the bytes on disk
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = session.get(url, headers=headers, stream=True, timeout=timeout)
    except (requests.ConnectionError, requests.Timeout) as exc:
        host = urlsplit(url).hostname or url
        raise _Retryable(
            f"could not connect to {host} ({_connect_reason(exc)}): check your network connection or pass `from_files`"
        ) from exc
    except requests.RequestException as exc:
        raise ScribeError(f"cannot download {url!r} ({type(exc).__name__}): pass a full http(s):// URL") from exc
    with response:
        if response.status_code == 416 and offset:
            total = _content_range(response)[1] or size
            if total == offset:  # the previous run received everything but was stopped before the rename
                progress(offset, total)
                return total
            part.unlink()  # not a prefix of this file: start over
            return _attempt(session, url, part, size, timeout, progress, registration)
        _check_status(response, url, registration)
        if response.status_code == 206:
            start, total = _content_range(response)
            if start != offset:
                part.unlink()
                raise _Retryable(f"{url} answered with the wrong byte range; run the same command again")
        else:  # a full body, also when the server ignored Range: restart cleanly
            offset, total = 0, _content_length(response)
        _stream_body(response, part, offset, total, url, progress)
        return total


def _verify(part: Path, dest: Path, size: int | None, sha256: str | None) -> None:
    """Remove ``part`` and fail if it is not the expected file, so a bad file is never used."""
    actual_size = part.stat().st_size
    if size is not None and actual_size != size:
        part.unlink()
        raise ScribeError(
            f"size mismatch for {dest.name}: expected {size:,} bytes, got {actual_size:,}; "
            "the file was removed: run again to retry, or check the URL"
        )
    if sha256 is not None:
        actual = sha256_file(part)
        if actual != sha256.lower():
            part.unlink()
            raise ScribeError(
                f"checksum mismatch for {dest.name}: expected sha256 {sha256.lower()}, got {actual}; "
                "the file was removed: run again to retry, or check `sha256`"
            )


def download_file(
    url: str,
    dest: Path,
    *,
    sha256: str | None = None,
    size: int | None = None,
    progress: ProgressFn = no_progress,
    session: requests.Session | None = None,
    timeout: tuple[float, float] = (10, 60),
    retries: int = 5,
    backoff: float = 1.0,
    registration: str | None = None,
) -> Path:
    """Download ``url`` to ``dest``, resuming ``dest.part`` and verifying before the rename.

    Connection errors, timeouts, cut transfers and 5xx replies are retried ``retries``
    times with exponential backoff (``backoff``, ``2*backoff``, ...), each retry
    resuming from what is already on disk. ``registration`` is shown on 401/403.
    Returns ``dest``; raises :class:`ScribeError` on failure, keeping the ``.part``
    of an interrupted transfer so that running again resumes it.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = _part_path(dest)
    own_session = session is None
    http = session if session is not None else requests.Session()
    try:
        total = _with_retries(
            lambda: _attempt(http, url, part, size, timeout, progress, registration), retries, backoff
        )
    finally:
        if own_session:
            http.close()
    _verify(part, dest, size if size is not None else total, sha256)
    os.replace(part, dest)
    return dest


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


# --------------------------------------------------------------------------- datasets


@dataclass(frozen=True)
class _Item:
    """One file to fetch: from ``url`` or copied from ``local``."""

    filename: str
    url: str | None = None
    local: Path | None = None
    sha256: str | None = None
    size: int | None = None


def _filename_from_url(url: str) -> str:
    """The file name a ``--url`` download is saved under: the URL's last path segment, checked to be a plain name."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ScribeError(f"`urls` must be http:// or https:// addresses, got {url!r}")
    name = posixpath.basename(unquote(parts.path))
    if name in ("", ".", "..") or "\\" in name:
        raise ScribeError(f"cannot tell a file name from {url!r}: pass a URL that ends in the archive's name")
    return name


def _checked_sha256(values: list[str], count: int) -> list[str | None]:
    """``--sha256`` values matched to the files in order (None everywhere when not given)."""
    if not values:
        return [None] * count
    if len(values) != count:
        raise ScribeError(f"got {len(values)} `sha256` value(s) for {count} file(s): pass one per file, in order")
    for value in values:
        if not re.fullmatch(r"[0-9a-fA-F]{64}", value):
            raise ScribeError(f"`sha256` {value!r} is not a SHA256 hex digest (64 hex characters)")
    return [v.lower() for v in values]


def _plan(spec: DatasetSpec, urls: list[str], from_files: list[Path], sha256: list[str]) -> list[_Item]:
    """The files to fetch: the table's sources, replaced by ``--url`` or ``--from-file`` when given."""
    if urls and from_files:
        raise ScribeError("pass either `urls` or `from_files`, not both (run the command once for each)")
    if from_files:
        items = [_Item(Path(p).name, local=Path(p).expanduser()) for p in from_files]
    elif urls:
        items = [_Item(_filename_from_url(u), url=u) for u in urls]
    else:
        items = [_Item(s.filename, url=s.url, sha256=s.sha256, size=s.size) for s in spec.sources]
    names = [item.filename for item in items]
    if len(set(names)) != len(names):
        raise ScribeError(f"two files would have the same name in {downloads_dir(spec.name)}: {', '.join(names)}")
    checks = _checked_sha256(sha256, len(items))
    return [
        _Item(item.filename, item.url, item.local, check or item.sha256, item.size)
        for item, check in zip(items, checks, strict=True)
    ]


def _present_sha256(dest: Path, item: _Item) -> str | None:
    """The digest of an existing ``dest`` if it matches what is expected, else None."""
    if not dest.is_file() or (item.size is not None and dest.stat().st_size != item.size):
        return None
    digest = sha256_file(dest)
    return digest if item.sha256 in (None, digest) else None


def _fetch(
    url: str, item: _Item, dest: Path, spec: DatasetSpec, force: bool, factory: ProgressFactory | None
) -> tuple[str, str]:
    """Download ``item`` unless a verified copy is there; returns ``(action, sha256)``."""
    present = None if force else _present_sha256(dest, item)
    if present is not None:
        return "already present", present
    if force:
        _part_path(dest).unlink(missing_ok=True)  # "again" means from the first byte
    progress = factory(item.filename, item.size) if factory else no_progress
    download_file(url, dest, sha256=item.sha256, size=item.size, progress=progress, registration=spec.registration)
    return "downloaded", item.sha256 or sha256_file(dest)


def _import(local: Path, item: _Item, dest: Path, force: bool) -> tuple[str, str]:
    """Copy a local archive into the downloads folder, verified first; returns ``(action, sha256)``."""
    if not local.is_file():
        raise ScribeError(f"file not found: {local}: check the path given in `from_files`")
    digest = sha256_file(local)
    if item.sha256 is not None and digest != item.sha256:
        raise ScribeError(
            f"checksum mismatch for {local}: expected sha256 {item.sha256}, got {digest}; check the file or `sha256`"
        )
    if dest.exists() and os.path.samefile(local, dest):  # --from-file pointed at the downloads folder itself
        return "already present", digest
    if not force and _present_sha256(dest, _Item(item.filename, sha256=digest, size=local.stat().st_size)):
        return "already present", digest
    part = _part_path(dest)
    try:
        shutil.copyfile(local, part)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            part.unlink(missing_ok=True)
            raise ScribeError(f"disk full while copying {local} to {dest}: free space and run again") from exc
        raise
    os.replace(part, dest)
    return "imported", digest


def _acquire(item: _Item, dest: Path, spec: DatasetSpec, force: bool, factory: ProgressFactory | None) -> DownloadedFile:
    """Bring one archive into the downloads folder and say how."""
    if item.local is not None:
        action, digest = _import(item.local, item, dest, force)
    else:
        assert item.url is not None  # _plan gives every item a url or a local path
        action, digest = _fetch(item.url, item, dest, spec, force, factory)
    return DownloadedFile(item.filename, dest, action, digest, dest.stat().st_size)


def _extract_once(report: DownloadedFile, raw: Path, force: bool, factory: ProgressFactory | None) -> None:
    """Extract an archive unless a marker says this exact archive (by sha256) already was."""
    marker = raw / f"{MARKER_PREFIX}{report.filename}"
    if not force and marker.is_file() and marker.read_text().strip() == report.sha256:
        return
    progress = factory(f"extracting {report.filename}", None) if factory else no_progress
    extract_archive(report.path, raw, progress)
    marker.write_text(report.sha256 + "\n")


def _count_raw_files(raw: Path) -> int:
    """Files extracted under ``raw``, not counting scribe's own extraction markers."""
    return sum(
        1 for p in raw.rglob("*") if p.is_file() and not (p.parent == raw and p.name.startswith(MARKER_PREFIX))
    )


def download_dataset(
    name: str,
    *,
    urls: list[str] | None = None,
    from_files: list[Path] | None = None,
    sha256: list[str] | None = None,
    force: bool = False,
    progress_factory: ProgressFactory | None = None,
) -> DownloadReport:
    """Fetch dataset ``name``'s archives into its downloads folder and extract them into raw/.

    ``urls`` replaces the spec's URLs (e.g. a mirror or IAM-OnDB's personal links),
    ``from_files`` imports archives already on disk without network, and ``sha256``
    gives each file's checksum in order. A file that is already there and verifies is
    left alone, and an archive already extracted is not extracted again, unless
    ``force``. ``progress_factory(description, total)`` makes one progress callback
    per file.
    """
    spec = dataset_spec(name)
    items = _plan(spec, list(urls or []), list(from_files or []), list(sha256 or []))
    folder = downloads_dir(name)
    folder.mkdir(parents=True, exist_ok=True)
    reports = [_acquire(item, folder / item.filename, spec, force, progress_factory) for item in items]
    raw = raw_dir(name)
    raw.mkdir(parents=True, exist_ok=True)
    for report in reports:
        _extract_once(report, raw, force, progress_factory)
    if spec.check_raw is not None:
        spec.check_raw(raw)
    return DownloadReport(name, reports, raw, _count_raw_files(raw))
