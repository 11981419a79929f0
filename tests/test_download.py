"""Download, resume, verification and safe extraction against a real local HTTP server."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import socket
import tarfile
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from helpers.server import Server
from scribe.datasets import DATASETS
from scribe.datasets.deepwriting import find_deepwriting_files
from scribe.datasets.download import download_dataset, download_file, sha256_file
from scribe.datasets.extract import extract_archive
from scribe.datasets.spec import Source
from scribe.errors import ScribeError
from scribe.progress import ProgressFn

# 409,600 bytes, position-dependent so a shifted resume shows; several read chunks long,
# because a client may drop the last partial chunk when a connection is cut.
PAYLOAD = bytes(range(256)) * 1600


def _range_start(header: str | None) -> int:
    match = re.fullmatch(r"bytes=(\d+)-", header or "")
    assert match, header
    return int(match.group(1))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


FAST = {"backoff": 0.01, "connect_timeout": 2, "stall_seconds": 5}


# --------------------------------------------------------------------------- download_file


def test_plain_download_reports_progress_and_verifies(server: Server, tmp_path: Path) -> None:
    url = server.add("/file.bin", PAYLOAD)
    seen: list[tuple[int, int | None]] = []
    dest = download_file(
        url, tmp_path / "file.bin", sha256=_sha(PAYLOAD), progress=lambda c, t: seen.append((c, t)), **FAST
    )
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "file.bin.part").exists()
    assert seen[0] == (0, len(PAYLOAD)) and seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert server.requests[0][1]["Accept-Encoding"] == "identity"


def test_cut_transfer_is_resumed_by_retry(server: Server, tmp_path: Path) -> None:
    url = server.add("/cut.bin", PAYLOAD, "cut-once")
    dest = download_file(url, tmp_path / "cut.bin", size=len(PAYLOAD), **FAST)
    assert dest.read_bytes() == PAYLOAD
    first, resumed = server.ranges("/cut.bin")
    assert first is None and 0 < _range_start(resumed) <= len(PAYLOAD) // 2


def test_cut_transfer_without_retries_keeps_part_and_next_call_resumes(server: Server, tmp_path: Path) -> None:
    url = server.add("/cut.bin", PAYLOAD, "cut-once")
    dest = tmp_path / "cut.bin"
    with pytest.raises(ScribeError, match="run the same command again to resume") as info:
        download_file(url, dest, retries=0, **FAST)
    assert "\n" not in str(info.value)
    part = tmp_path / "cut.bin.part"
    kept = part.read_bytes()
    assert 0 < len(kept) <= len(PAYLOAD) // 2 and kept == PAYLOAD[: len(kept)] and not dest.exists()

    seen: list[tuple[int, int | None]] = []
    download_file(url, dest, retries=0, sha256=_sha(PAYLOAD), progress=lambda c, t: seen.append((c, t)), **FAST)
    assert dest.read_bytes() == PAYLOAD and not part.exists()
    assert seen[0] == (len(kept), len(PAYLOAD))  # progress starts at the resumed size
    assert server.ranges("/cut.bin")[-1] == f"bytes={len(kept)}-"


def test_server_ignoring_range_restarts_cleanly(server: Server, tmp_path: Path) -> None:
    url = server.add("/norange.bin", PAYLOAD, "ignore-range")
    (tmp_path / "norange.bin.part").write_bytes(PAYLOAD[:1000])
    dest = download_file(url, tmp_path / "norange.bin", **FAST)
    assert dest.read_bytes() == PAYLOAD  # not appended to the stale prefix
    assert server.ranges("/norange.bin") == ["bytes=1000-"]


def test_complete_part_answered_416_is_accepted(server: Server, tmp_path: Path) -> None:
    url = server.add("/done.bin", PAYLOAD)
    (tmp_path / "done.bin.part").write_bytes(PAYLOAD)
    dest = download_file(url, tmp_path / "done.bin", sha256=_sha(PAYLOAD), **FAST)
    assert dest.read_bytes() == PAYLOAD


def test_longer_stale_part_is_discarded(server: Server, tmp_path: Path) -> None:
    url = server.add("/file.bin", PAYLOAD)
    (tmp_path / "file.bin.part").write_bytes(PAYLOAD + b"junk")  # answered 416, not a prefix
    assert download_file(url, tmp_path / "file.bin", **FAST).read_bytes() == PAYLOAD
    assert server.ranges("/file.bin") == [f"bytes={len(PAYLOAD) + 4}-", None]


def test_server_error_is_retried(server: Server, tmp_path: Path) -> None:
    url = server.add("/flaky.bin", PAYLOAD, "500-once")
    assert download_file(url, tmp_path / "flaky.bin", **FAST).read_bytes() == PAYLOAD
    assert len(server.ranges("/flaky.bin")) == 2
    server.add("/flaky.bin", PAYLOAD, "500-once")
    with pytest.raises(ScribeError, match=r"server error \(HTTP 500\).*try again later"):
        download_file(url, tmp_path / "again.bin", retries=0, **FAST)


def test_not_found(server: Server, tmp_path: Path) -> None:
    url = server.add("/gone.bin", b"", "404")
    with pytest.raises(ScribeError, match=r"not found \(404\).*`urls`"):
        download_file(url, tmp_path / "gone.bin", **FAST)
    assert len(server.requests) == 1  # a 404 is not retried


def test_forbidden_explains_registration(server: Server, tmp_path: Path) -> None:
    url = server.add("/private.tar.gz", b"", "403")
    registration = DATASETS["iam-ondb"].registration
    with pytest.raises(ScribeError) as info:
        download_file(url, tmp_path / "private.tar.gz", registration=registration, **FAST)
    message = str(info.value)
    assert "403" in message and "registering" in message and "`from_files`" in message and "\n" not in message
    with pytest.raises(ScribeError, match="registration.*`from_files`"):
        download_file(url, tmp_path / "private.tar.gz", **FAST)
    with pytest.raises(ScribeError, match="register at example.org; .*`from_files`"):
        download_file(url, tmp_path / "private.tar.gz", registration="register at example.org", **FAST)


def test_checksum_mismatch_removes_file(server: Server, tmp_path: Path) -> None:
    url = server.add("/file.bin", PAYLOAD)
    with pytest.raises(ScribeError, match=f"expected sha256 {'0' * 64}, got {_sha(PAYLOAD)}.*retry$"):
        download_file(url, tmp_path / "file.bin", sha256="0" * 64, **FAST)  # not the user's checksum: no `sha256` advice
    assert list(tmp_path.iterdir()) == []


def test_size_mismatch_removes_file(server: Server, tmp_path: Path) -> None:
    url = server.add("/file.bin", PAYLOAD)
    with pytest.raises(ScribeError, match="size mismatch"):
        download_file(url, tmp_path / "file.bin", size=len(PAYLOAD) + 1, **FAST)
    assert list(tmp_path.iterdir()) == []


def test_connection_refused(tmp_path: Path) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(ScribeError, match="could not connect to 127.0.0.1.*network"):
        download_file(f"http://127.0.0.1:{port}/x.zip", tmp_path / "x.zip", retries=1, **FAST)


@pytest.mark.parametrize(("behaviour", "expected"), [
    ("silent", r"the server at 127\.0\.0\.1 stopped sending data \(nothing for 0\.5 s after connecting\)"),
    ("stall", r"after [\d,]+ of 409,600 bytes \(the server stopped sending data\); run the same command again"),
    ("slow", r"\(the server sends data too slowly: under 1,024 bytes in 0\.5 s\)"),
])
def test_stalled_servers_fail_fast_and_say_so(server: Server, tmp_path: Path, behaviour: str, expected: str) -> None:
    url = server.add("/stalls.bin", PAYLOAD, behaviour)
    started = time.monotonic()
    with pytest.raises(ScribeError, match=expected) as info:
        download_file(url, tmp_path / "stalls.bin", retries=0, connect_timeout=2, stall_seconds=0.5)
    assert time.monotonic() - started < 5 and "could not connect" not in str(info.value)


@pytest.mark.parametrize(("behaviour", "limits", "expected"), [
    ("endless", {"max_bytes": 100_000}, r"is larger than the 100,000 bytes allowed for one download"),
    ("endless", {"size": 100_000}, r"expected 100,000 bytes, the server sends more"),
    ("normal", {"max_bytes": 100_000}, r"is larger than the 100,000 bytes allowed"),  # told by Content-Length
    ("normal", {"size": 100_000}, r"expected 100,000 bytes, the server has 409,600"),
])
def test_oversized_bodies_are_refused(server: Server, tmp_path: Path, behaviour: str, limits: dict, expected: str) -> None:
    url = server.add("/big.bin", PAYLOAD, behaviour)
    with pytest.raises(ScribeError, match=expected):
        download_file(url, tmp_path / "big.bin", retries=2, **limits, **FAST)
    assert list(tmp_path.iterdir()) == [] and len(server.requests) == 1  # not retried


def test_content_encoding_is_not_decoded(server: Server, tmp_path: Path) -> None:
    packed = gzip.compress(PAYLOAD)  # a .tar.gz a misconfigured server labels Content-Encoding: gzip
    url = server.add("/data.tar.gz", packed, headers={"Content-Encoding": "gzip", "Content-Type": "application/x-gzip"})
    dest = download_file(url, tmp_path / "data.tar.gz", sha256=_sha(packed), size=len(packed), **FAST)
    assert dest.read_bytes() == packed


def test_resume_sends_the_stored_validator_and_restarts_a_changed_file(server: Server, tmp_path: Path) -> None:
    url = server.add("/v.bin", PAYLOAD, "cut-once", headers={"ETag": '"v1"'})
    dest, part, stored = tmp_path / "v.bin", tmp_path / "v.bin.part", tmp_path / "v.bin.part.json"
    with pytest.raises(ScribeError, match="resume"):
        download_file(url, dest, retries=0, **FAST)
    assert json.loads(stored.read_text()) == {"validator": '"v1"'}
    assert download_file(url, dest, **FAST).read_bytes() == PAYLOAD and not stored.exists()
    assert server.requests[-1][1]["If-Range"] == '"v1"' and _range_start(server.ranges("/v.bin")[-1]) > 0  # resumed
    dest.unlink()
    part.write_bytes(b"old!" * 250)  # the start of an older version of the file
    stored.write_text(json.dumps({"validator": '"v0"'}))
    assert download_file(url, dest, **FAST).read_bytes() == PAYLOAD  # answered 200, not spliced
    assert server.requests[-1][1]["If-Range"] == '"v0"'
    server.add("/lm.bin", PAYLOAD, "cut-once", headers={"ETag": 'W/"weak"', "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT"})
    with pytest.raises(ScribeError, match="resume"):
        download_file(server.base + "/lm.bin", tmp_path / "lm.bin", retries=0, **FAST)
    assert json.loads((tmp_path / "lm.bin.part.json").read_text()) == {"validator": "Mon, 01 Jan 2024 00:00:00 GMT"}


def test_unwritable_destinations_and_bad_answers_give_one_line_errors(server: Server, tmp_path: Path) -> None:
    url = server.add("/file.bin", PAYLOAD)
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(ScribeError, match=r"cannot write .*a-file.*a folder you can write"):
        download_file(url, tmp_path / "a-file" / "file.bin", **FAST)
    (tmp_path / "file.bin.part").mkdir()
    with pytest.raises(ScribeError, match=r"cannot write .*file\.bin\.part: a folder of that name is in the way"):
        download_file(url, tmp_path / "file.bin", **FAST)
    (tmp_path / "file.bin.part").rmdir()
    (tmp_path / "file.bin" / "in-the-way").mkdir(parents=True)
    with pytest.raises(ScribeError, match=r"cannot write .*file\.bin: a folder"):  # moving into place fails
        download_file(url, tmp_path / "file.bin", **FAST)
    loop = server.add("/loop.zip", b"", "redirect-loop")
    with pytest.raises(ScribeError, match=r"too many redirects for .*/loop\.zip.*`from_files`"):
        download_file(loop, tmp_path / "loop.zip", **FAST)
    page = server.add("/login.zip", b"<html>log in</html>", headers={"Content-Type": "text/html; charset=utf-8"})
    expected = r"the server sent a web page instead of login\.zip \(a login page\?\); download it in a browser.*`from_files`"
    with pytest.raises(ScribeError, match=expected):
        download_file(page, tmp_path / "login.zip", **FAST)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_disk_full_keeps_partial(server: Server, tmp_path: Path) -> None:
    url = server.add("/file.bin", PAYLOAD)
    (tmp_path / "file.bin.part").symlink_to("/dev/full")  # every write fails with ENOSPC
    with pytest.raises(ScribeError, match="disk full while writing .*partial download is kept"):
        download_file(url, tmp_path / "file.bin", **FAST)


# --------------------------------------------------------------------------- extraction


def _zip_bytes(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _tar_gz(path: Path, infos: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for info, data in infos:
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def test_extracts_zip_and_tar_by_content(tmp_path: Path) -> None:
    archive = tmp_path / "data.bin"  # no telling extension
    archive.write_bytes(_zip_bytes({"a/b.txt": b"zip"}))
    seen: list[tuple[int, int | None]] = []
    files = extract_archive(archive, tmp_path / "out", lambda c, t: seen.append((c, t)))
    assert files == [tmp_path / "out" / "a" / "b.txt"]
    assert seen == [(0, 3), (3, 3)]
    tar = _tar_gz(tmp_path / "data.tgz", [(tarfile.TarInfo("c/d.txt"), b"tar")])
    assert [p.read_bytes() for p in extract_archive(tar, tmp_path / "out")] == [b"tar"]


def test_zip_with_parent_member_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    archive.write_bytes(_zip_bytes({"fine.txt": b"ok", "../evil": b"pwned"}))
    dest = tmp_path / "sub" / "out"
    with pytest.raises(ScribeError, match="'../evil'"):
        extract_archive(archive, dest)
    assert not (tmp_path / "sub" / "evil").exists() and not (tmp_path / "evil").exists()
    assert list((tmp_path / "sub").iterdir()) == [dest] and list(dest.iterdir()) == []


def test_zip_symlink_member_is_refused(tmp_path: Path) -> None:
    info = zipfile.ZipInfo("link")
    info.external_attr = 0o120777 << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(info, "/etc/passwd")
    (tmp_path / "link.zip").write_bytes(buffer.getvalue())
    with pytest.raises(ScribeError, match="symbolic link"):
        extract_archive(tmp_path / "link.zip", tmp_path / "out")


def test_tar_with_absolute_member_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    members = [(tarfile.TarInfo("ok.txt"), b"ok"), (tarfile.TarInfo(str(outside)), b"x")]
    archive = _tar_gz(tmp_path / "abs.tar.gz", members)
    with pytest.raises(ScribeError, match="absolute path"):
        extract_archive(archive, tmp_path / "out")
    assert not outside.exists() and list((tmp_path / "out").iterdir()) == []


def test_tar_with_symlink_is_refused(tmp_path: Path) -> None:
    link = tarfile.TarInfo("etc")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc"
    archive = _tar_gz(tmp_path / "link.tar.gz", [(link, b""), (tarfile.TarInfo("etc/evil"), b"x")])
    with pytest.raises(ScribeError, match="'etc' is a link"):
        extract_archive(archive, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def _tar_member(name: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    if kind == tarfile.LNKTYPE:
        info.linkname = "ok.txt"
    return info


@pytest.mark.parametrize(
    ("info", "why"),
    [
        (_tar_member("hard", tarfile.LNKTYPE), "is a link"),
        (_tar_member("pipe", tarfile.FIFOTYPE), "device or fifo"),
        (_tar_member("disk", tarfile.BLKTYPE), "device or fifo"),
        (_tar_member("C:/Windows/evil", tarfile.REGTYPE), "absolute path"),
        (_tar_member("a/..\\..\\evil", tarfile.REGTYPE), r"outside the target folder"),
    ],
)
def test_other_unsafe_tar_members_are_refused(tmp_path: Path, info: tarfile.TarInfo, why: str) -> None:
    archive = _tar_gz(tmp_path / "bad.tar", [(tarfile.TarInfo("ok.txt"), b"ok"), (info, b"")])
    with pytest.raises(ScribeError, match=why):
        extract_archive(archive, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_zip_absolute_member_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "abs.zip"
    archive.write_bytes(_zip_bytes({"ok.txt": b"ok", "/tmp/evil": b"x"}))
    with pytest.raises(ScribeError, match="absolute path"):
        extract_archive(archive, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_corrupt_archive(tmp_path: Path) -> None:
    good = _zip_bytes({"a.txt": b"a" * 5000})
    damaged = tmp_path / "bad.zip"
    damaged.write_bytes(good.replace(b"a" * 10, b"b" * 10, 1))  # stored data no longer matches its CRC
    with pytest.raises(ScribeError, match="damaged"):
        extract_archive(damaged, tmp_path / "out")
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not an archive")
    with pytest.raises(ScribeError, match="not a zip or tar"):
        extract_archive(junk, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.zip", "junk.zip", "out"]  # no staging left


def test_archive_bombs_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    (tmp_path / "bomb.zip").write_bytes(_zip_bytes({"zeros.bin": bytes(4 << 20)}, zipfile.ZIP_DEFLATED))
    (tmp_path / "two.zip").write_bytes(_zip_bytes({"a": b"a" * 600, "b": b"b" * 600}))
    cases = [
        ("bomb.zip", {}, r"member 'zeros.bin' expands [\d,]+:1, more than the 200:1 allowed; nothing was extracted"),
        (_tar_gz(tmp_path / "bomb.tgz", [(tarfile.TarInfo("z"), bytes(4 << 20))]).name, {}, r"it expands [\d,]+:1"),
        ("two.zip", {"max_bytes": 1000}, "it would extract 1,200 bytes, more than the 1,000 allowed"),
    ]
    for name, limits, expected in cases:
        with pytest.raises(ScribeError, match=expected):
            extract_archive(tmp_path / name, tmp_path / "out", **limits)
    assert list((tmp_path / "out").iterdir()) == []


def _lie_about_size(data: bytes, size: int) -> bytes:
    """A one-member zip whose central directory declares ``size`` uncompressed bytes."""
    at = data.index(b"PK\x01\x02") + 24
    return data[:at] + size.to_bytes(4, "little") + data[at + 4 :]


def test_lying_truncated_and_leftover_archives(tmp_path: Path) -> None:
    (tmp_path / ".out.extract-killed" / "huge").mkdir(parents=True)  # what a SIGKILLed extraction leaves
    inner = _zip_bytes({"x.npy": b"x" * 1000})
    outer = _zip_bytes({"d/train.npz": inner, "d/val.npz": b"v" * 1000})  # stored, as .npz inside zips are
    for name, data, why in [
        ("cut.zip", outer[: outer.index(inner) + len(inner)], "does not start with its first member: truncated"),
        ("short.zip", _lie_about_size(_zip_bytes({"a": b"a" * 5000}), 9000), "ends after 5,000 of its 9,000 bytes"),
        ("long.zip", _lie_about_size(_zip_bytes({"a": b"a" * 5000}), 10), "Bad CRC-32"),  # zipfile stops at 10 bytes
    ]:
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ScribeError, match=f"{name} is damaged .*{why}.*`force`"):
            extract_archive(tmp_path / name, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # the killed run's staging too


# --------------------------------------------------------------------------- download_dataset


DEEPWRITING_ZIP = _zip_bytes(
    {
        "deepwriting_dataset/": b"",
        "deepwriting_dataset/data/deepwriting_training.npz": b"train",
        "deepwriting_dataset/data/deepwriting_validation.npz": b"valid",
    }
)


def test_download_dataset_flow_and_second_run(server: Server, scribe_home: Path) -> None:
    url = server.add("/mirror/deepwriting_dataset.zip", DEEPWRITING_ZIP)
    bars: list[str] = []

    def factory(description: str, total: int | None) -> ProgressFn:
        bars.append(description)
        return lambda completed, total: None

    report = download_dataset("deepwriting", urls=[url], progress_factory=factory)
    [item] = report.files
    assert item.action == "downloaded" and item.sha256 == _sha(DEEPWRITING_ZIP) and item.bytes == len(DEEPWRITING_ZIP)
    assert item.path == scribe_home / "datasets" / "deepwriting" / "downloads" / "deepwriting_dataset.zip"
    assert report.raw_dir == scribe_home / "datasets" / "deepwriting" / "raw" and report.extracted == 2
    assert [p.read_bytes() for p in find_deepwriting_files(report.raw_dir)] == [b"train", b"valid"]
    assert bars == ["deepwriting_dataset.zip", "extracting deepwriting_dataset.zip"]

    requests_before = len(server.requests)
    again = download_dataset("deepwriting", urls=[url], progress_factory=factory)
    assert [f.action for f in again.files] == ["already present"] and again.extracted == 2
    assert len(server.requests) == requests_before and len(bars) == 2  # no HTTP, no re-extraction

    forced = download_dataset("deepwriting", urls=[url], sha256=[_sha(DEEPWRITING_ZIP)], force=True)
    assert [f.action for f in forced.files] == ["downloaded"] and len(server.requests) == requests_before + 1


def test_download_dataset_from_file(tmp_path: Path, scribe_home: Path) -> None:
    archive = tmp_path / "deepwriting_dataset.zip"
    archive.write_bytes(DEEPWRITING_ZIP)
    report = download_dataset("deepwriting", from_files=[archive], sha256=[_sha(DEEPWRITING_ZIP).upper()])
    assert [f.action for f in report.files] == ["imported"]
    assert sha256_file(report.files[0].path) == _sha(DEEPWRITING_ZIP) and report.extracted == 2
    assert [f.action for f in download_dataset("deepwriting", from_files=[archive]).files] == ["already present"]


def test_download_dataset_mistakes(tmp_path: Path, scribe_home: Path) -> None:
    with pytest.raises(ScribeError, match="unknown dataset 'nope'.*deepwriting, iam-ondb"):
        download_dataset("nope")
    with pytest.raises(ScribeError, match="file not found.*`from_files`"):
        download_dataset("iam-ondb", from_files=[tmp_path / "missing.tar.gz"])
    with pytest.raises(ScribeError, match="2 `sha256` value.*1 file"):
        download_dataset("deepwriting", from_files=[tmp_path / "x.zip"], sha256=["0" * 64, "1" * 64])
    with pytest.raises(ScribeError, match="not a SHA256"):
        download_dataset("deepwriting", from_files=[tmp_path / "x.zip"], sha256=["abc"])
    with pytest.raises(ScribeError, match="either `urls` or `from_files`"):
        download_dataset("deepwriting", urls=["http://x/a.zip"], from_files=[tmp_path / "a.zip"])


def test_download_dataset_refuses_unsafe_archive(tmp_path: Path, scribe_home: Path) -> None:
    archive = tmp_path / "deepwriting_dataset.zip"
    archive.write_bytes(_zip_bytes({"deepwriting_training.npz": b"t", "../../evil": b"x"}))
    with pytest.raises(ScribeError, match="refusing to extract"):
        download_dataset("deepwriting", from_files=[archive])
    dataset = scribe_home / "datasets" / "deepwriting"
    assert list((dataset / "raw").iterdir()) == []
    assert not (dataset / "evil").exists() and not (scribe_home / "datasets" / "evil").exists()


def test_download_dataset_runs_the_specs_raw_check(tmp_path: Path, scribe_home: Path) -> None:
    archive = tmp_path / "deepwriting_dataset.zip"
    archive.write_bytes(_zip_bytes({"readme.txt": b"not the dataset"}))
    expected = "no deepwriting_training.npz or deepwriting_validation.npz under .*not the DeepWriting"
    with pytest.raises(ScribeError, match=expected):
        download_dataset("deepwriting", from_files=[archive])
    assert DATASETS["iam-ondb"].check_raw is None  # any archive is fine until `scribe split` reads it
    report = download_dataset("iam-ondb", from_files=[archive])
    assert report.extracted == 1


def test_download_dataset_advice_fits_where_the_file_came_from(
    server: Server, tmp_path: Path, scribe_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ScribeError, match=r"file name 'a{40}'\.\.\. is too long \(304 bytes, at most 200\).*`from_files`"):
        download_dataset("deepwriting", urls=[f"{server.base}/{'a' * 300}.zip"])
    with pytest.raises(ScribeError, match=r"cannot tell a file name from"):  # a NUL cannot be in a file name
        download_dataset("deepwriting", urls=[f"{server.base}/bad%00name.zip"])
    url = server.add("/deepwriting_dataset.zip", DEEPWRITING_ZIP)
    with pytest.raises(ScribeError, match=r"checksum mismatch .*run again to retry, or check `sha256`$"):
        download_dataset("deepwriting", urls=[url], sha256=["0" * 64])
    table = replace(DATASETS["deepwriting"], sources=(Source(url, "deepwriting_dataset.zip", sha256="0" * 64),))
    monkeypatch.setitem(DATASETS, "deepwriting", table)
    with pytest.raises(ScribeError, match=r"run again to retry, or pass a mirror in `urls`$"):
        download_dataset("deepwriting")
    damaged = tmp_path / "deepwriting_dataset.zip"
    damaged.write_bytes(DEEPWRITING_ZIP[:-30])
    with pytest.raises(ScribeError, match=r"not a zip or tar .*: check .*deepwriting_dataset\.zip \(given in `from_files`\)$"):
        download_dataset("deepwriting", from_files=[damaged])


def test_every_dataset_downloads_named_https_sources() -> None:
    for name, spec in DATASETS.items():
        assert spec.name == name and spec.sources
        for source in spec.sources:
            assert source.url.startswith("https://") and f"/{source.filename}" in source.url
