"""``scribe serve`` run for tests: as a user starts it (its own process), or in this process with other limits."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests

from helpers.cli import ctrl_c_reaches_it


@dataclass
class Running:
    """A server the tests talk to: its base URL and, when it is a process of its own, that process."""

    url: str
    process: subprocess.Popen[str] | None = None

    def write(self, body: dict[str, Any], timeout: float = 120) -> list[dict[str, Any]]:
        """POST /api/write and its events, in the order they came; a refusal raises with its status."""
        response = requests.post(self.url + "api/write", json=body, timeout=timeout, stream=True)
        response.raise_for_status()
        return [json.loads(line) for line in response.iter_lines() if line]


@contextmanager
def served(*arguments: str) -> Iterator[Running]:
    """``scribe serve --port 0 ARGUMENTS`` in its own process, until the block ends (then Ctrl-C)."""
    process = subprocess.Popen([sys.executable, "-m", "scribe", "serve", "--port", "0", *arguments], text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=ctrl_c_reaches_it)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("scribe serve: http://"), first + (process.stderr.read() if process.stderr else "")
        yield Running(first.split()[2], process)
    finally:
        if process.poll() is None:
            process.send_signal(2)
            process.wait(timeout=20)


@contextmanager
def served_here(service: Any) -> Iterator[Running]:
    """The app around ``service`` (a :class:`scribe.serve.jobs.WritingService`) on 127.0.0.1, in a thread."""
    import uvicorn

    from scribe.serve.app import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(service), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield Running(f"http://127.0.0.1:{sock.getsockname()[1]}/")
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def wait_for(check: Callable[[], Any], seconds: float = 60) -> Any:
    """``check()``'s first true result, polled until ``seconds`` pass (then an AssertionError)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if result := check():
            return result
        time.sleep(0.02)
    raise AssertionError(f"waited {seconds} s in vain")
