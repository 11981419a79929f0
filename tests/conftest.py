"""Shared fixtures: a temporary SCRIBE_HOME, a tiny split dataset, a local HTTP server (helpers in helpers.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from helpers.basics import write_split_dataset
from helpers.server import Server, make_handler


@pytest.fixture
def scribe_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty SCRIBE_HOME for the test."""
    home = tmp_path / "scribe-home"
    monkeypatch.setenv("SCRIBE_HOME", str(home))
    return home


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    """A split dataset of a few short lines in train and val."""
    return write_split_dataset(
        tmp_path / "tiny",
        {
            "train": ["hello world", "a quick fox", "jumps", "over the lazy dog", "pack my box", "with five"],
            "val": ["dozen jugs", "liquor"],
        },
    )


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server(base="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
