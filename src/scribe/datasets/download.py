"""Dataset download: the files a dataset's spec names, fetched or imported and verified, then safely extracted.

What to fetch, the registration note shown on 401/403 and the check of the
extracted files come from the dataset's :class:`~scribe.datasets.spec.DatasetSpec`;
the HTTP transfer (resumable, bounded in time and size) is
:mod:`scribe.datasets.transfer`'s and extraction (which refuses any member that
could write outside the target folder, and archive bombs) is
:mod:`scribe.datasets.extract`'s.

Everything a user can fix is raised as a one-line :class:`~scribe.errors.ScribeError`;
progress goes through :data:`~scribe.progress.ProgressFn` callbacks and results are
returned, never printed.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from scribe.datasets import dataset_spec
from scribe.datasets.extract import MAX_EXTRACTED_BYTES, REFETCH, extract_archive
from scribe.datasets.spec import DatasetSpec
from scribe.datasets.transfer import (
    ChecksumMismatch,
    discard_partial,
    download_file,
    part_path,
    sha256_file,
    writing,
)
from scribe.errors import ScribeError, reason
from scribe.paths import downloads_dir, raw_dir
from scribe.progress import ProgressFactory, no_progress

MARKER_PREFIX = ".extracted-"
#: Longest file name (in UTF-8 bytes) a download is saved under: file systems allow 255,
#: and ``.part.json`` is appended while it downloads.
MAX_NAME_BYTES = 200


@dataclass(frozen=True)
class DownloadedFile:
    """What happened to one archive: ``action`` is "downloaded", "already present", "imported" or "copied" (a folder).

    ``sha256`` is empty for a copied folder.
    """

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


# --------------------------------------------------------------------------- datasets


@dataclass(frozen=True)
class _Item:
    """One file to fetch: from ``url`` or copied from ``local``; ``sha256_given`` when the user gave the checksum."""

    filename: str
    url: str | None = None
    local: Path | None = None
    sha256: str | None = None
    size: int | None = None
    sha256_given: bool = False

    @property
    def remedy(self) -> str:
        """What to do about a damaged archive: fetch it again, or (imported) look at the file given."""
        return f"check {self.local} (given in `from_files`)" if self.local is not None else REFETCH


def _filename_from_url(url: str) -> str:
    """The file name a ``--url`` download is saved under: the URL's last path segment, checked to be a plain name."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        raise ScribeError(f"{url!r} is not a valid URL ({reason(exc)}); pass full http(s):// addresses in `urls`") from None
    if parts.scheme not in ("http", "https"):
        raise ScribeError(f"`urls` must be http:// or https:// addresses, got {url!r}")
    name = posixpath.basename(unquote(parts.path))
    if name in ("", ".", "..") or "\\" in name or "\x00" in name:
        raise ScribeError(f"cannot tell a file name from {url!r}: pass a URL that ends in the archive's name")
    return name


def _check_name_length(name: str) -> None:
    """Refuse a name the file system would reject once ``.part.json`` is appended, before any transfer."""
    length = len(name.encode("utf-8"))
    if length > MAX_NAME_BYTES:
        raise ScribeError(
            f"the file name {name[:40]!r}... is too long ({length} bytes, at most {MAX_NAME_BYTES}): "
            "save the file under a shorter name and pass it in `from_files`"
        )


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
    for name in names:
        _check_name_length(name)
    checks = _checked_sha256(sha256, len(items))
    return [
        _Item(item.filename, item.url, item.local, check or item.sha256, item.size, check is not None)
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
        discard_partial(dest)  # "again" means from the first byte
    progress = factory(item.filename, item.size) if factory else no_progress
    try:
        download_file(url, dest, sha256=item.sha256, size=item.size, progress=progress, registration=spec.registration)
    except ChecksumMismatch as exc:  # say which checksum to doubt: the user's, or the table's (then the server's file)
        raise ScribeError(f"{exc}, or {'check `sha256`' if item.sha256_given else 'pass a mirror in `urls`'}") from exc
    return "downloaded", item.sha256 or sha256_file(dest)


def _import(local: Path, item: _Item, dest: Path, force: bool) -> tuple[str, str]:
    """Copy a local archive into the downloads folder, verified first; returns ``(action, sha256)``."""
    if not local.is_file():
        raise ScribeError(f"file not found: {local}: check the path given in `from_files`")
    try:
        digest = sha256_file(local)
    except OSError as exc:
        raise ScribeError(f"cannot read {local} ({exc.strerror or exc}): check the file given in `from_files`") from exc
    if item.sha256 is not None and digest != item.sha256:
        raise ScribeError(
            f"checksum mismatch for {local}: expected sha256 {item.sha256}, got {digest}; check the file or `sha256`"
        )
    if dest.exists() and os.path.samefile(local, dest):  # --from-file pointed at the downloads folder itself
        return "already present", digest
    if not force and _present_sha256(dest, _Item(item.filename, sha256=digest, size=local.stat().st_size)):
        return "already present", digest
    part = part_path(dest)
    try:
        with writing(dest):
            shutil.copyfile(local, part)
            os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)  # a failed copy leaves nothing; after the rename there is nothing to remove
    return "imported", digest


def _regular_files(folder: Path) -> list[Path]:
    """Every file below ``folder``, refusing links and special files (a copied tree must not reach outside itself)."""
    files = []
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not (path.is_dir() or path.is_file()):
            raise ScribeError(f"{path} is a link or a special file; `from_files` folders may hold only plain files and folders")
        if path.is_file():
            files.append(path)
    return files


def _copy_folder(local: Path, raw: Path, force: bool) -> DownloadedFile:
    """Copy an unpacked dataset folder into ``raw/<its name>``, whole or not at all (a staging copy is renamed in)."""
    target = raw / local.name
    if target.exists() and not force:
        return DownloadedFile(local.name, target, "already present", "", sum(p.stat().st_size for p in _regular_files(target)))
    files = _regular_files(local)
    if not files:
        raise ScribeError(f"{local} holds no files; give the folder the dataset was unpacked into")
    total = sum(path.stat().st_size for path in files)
    if total > MAX_EXTRACTED_BYTES:
        raise ScribeError(f"{local} holds {total:,} bytes, over the {MAX_EXTRACTED_BYTES:,} a dataset may take")
    staging = raw / f".{local.name}.copy-{os.getpid()}"
    try:
        with writing(staging):
            shutil.rmtree(staging, ignore_errors=True)
            for path in files:
                copy = staging / path.relative_to(local)
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, copy)
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return DownloadedFile(local.name, target, "copied", "", total)


def _acquire(item: _Item, dest: Path, spec: DatasetSpec, force: bool, factory: ProgressFactory | None) -> DownloadedFile:
    """Bring one archive into the downloads folder and say how."""
    if item.local is not None:
        action, digest = _import(item.local, item, dest, force)
    else:
        assert item.url is not None  # _plan gives every item a url or a local path
        action, digest = _fetch(item.url, item, dest, spec, force, factory)
    return DownloadedFile(item.filename, dest, action, digest, dest.stat().st_size)


def _extract_once(
    report: DownloadedFile, raw: Path, force: bool, factory: ProgressFactory | None, remedy: str
) -> list[Path]:
    """Extract an archive unless a marker says this exact archive (by sha256) already was; the files written."""
    marker = raw / f"{MARKER_PREFIX}{report.filename}"
    if not force and marker.is_file() and marker.read_text().strip() == report.sha256:
        return []
    progress = factory(f"extracting {report.filename}", None) if factory else no_progress
    written = extract_archive(report.path, raw, progress, remedy=remedy)
    with writing(marker):
        marker.write_text(report.sha256 + "\n")
    return [*written, marker]


def _take_back(added: list[Path], raw: Path) -> None:
    """Remove what this run put in place (imported copies, extracted files, copied folders) and the folders it emptied."""
    for path in added:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    for folder in sorted({p.parent for p in added if raw in p.parents}, key=lambda p: len(p.parts), reverse=True):
        while folder != raw and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent


def _count_raw_files(raw: Path) -> int:
    """Files extracted under ``raw``, not counting scribe's own extraction markers."""
    return sum(
        1 for p in raw.rglob("*") if p.is_file() and not (p.parent == raw and p.name.startswith(MARKER_PREFIX))
    )


def _bring(
    item: _Item, folder: Path, raw: Path, spec: DatasetSpec, force: bool, factory: ProgressFactory | None, added: list[Path]
) -> DownloadedFile:
    """Put one item of the plan in place (fetch or import, then extract; or copy a folder); ``added`` gets what it adds."""
    if item.local is not None and item.local.is_dir():  # an unpacked copy: nothing to download or extract
        if item.sha256_given:
            raise ScribeError(f"{item.local} is a folder, which has no SHA256; pass `sha256` only for archives")
        report = _copy_folder(item.local, raw, force)
        added += [report.path] if report.action == "copied" else []
        return report
    report = _acquire(item, folder / item.filename, spec, force, factory)
    added += [report.path] if report.action == "imported" else []
    added += _extract_once(report, raw, force, factory, item.remedy)
    return report


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
    ``from_files`` imports archives already on disk without network (a folder is
    an unpacked copy: it is copied into raw/ as it is), and ``sha256``
    gives each file's checksum in order. A file that is already there and verifies is
    left alone, and an archive already extracted is not extracted again, unless
    ``force``. ``progress_factory(description, total)`` makes one progress callback
    per file.
    """
    spec = dataset_spec(name)
    items = _plan(spec, list(urls or []), list(from_files or []), list(sha256 or []))
    folder, raw = downloads_dir(name), raw_dir(name)
    for needed in (folder, raw):
        with writing(needed):
            needed.mkdir(parents=True, exist_ok=True)
    reports: list[DownloadedFile] = []
    added: list[Path] = []  # what this run put in place: taken back if it does not bring the dataset
    try:
        for item in items:
            reports.append(_bring(item, folder, raw, spec, force, progress_factory, added))
        if spec.check_raw is not None:
            spec.check_raw(raw)
    except ScribeError:
        _take_back(added, raw)  # copies and extracted files the refused archive brought; what was there stays
        raise
    return DownloadReport(name, reports, raw, _count_raw_files(raw))
