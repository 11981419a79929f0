"""A real HTTP server on 127.0.0.1 for download tests: it serves, cuts, stalls and misbehaves on request."""

from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


@dataclass
class Route:
    """What the server does for one path: ``behaviour``, the body it serves and extra ``headers`` sent with it.

    Behaviours: normal | cut-once | ignore-range | 404 | 403 | 500-once | redirect-loop | silent (never answers)
    | stall (half the body, then nothing) | slow (a byte per 0.1 s) | endless (the body over and over).
    An ``ETag`` or ``Last-Modified`` header makes ``If-Range`` work: another validator gets the whole body.
    """

    body: bytes
    behaviour: str = "normal"
    hits: int = 0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Server:
    """The running test server: register routes, read the requests it saw."""

    base: str
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def add(self, path: str, body: bytes, behaviour: str = "normal", headers: dict[str, str] | None = None) -> str:
        self.routes[path] = Route(body, behaviour, headers=dict(headers or {}))
        return self.base + path

    def ranges(self, path: str) -> list[str | None]:
        return [headers.get("Range") for p, headers in self.requests if p == path]


class _Handler(BaseHTTPRequestHandler):
    """Answers each GET as its :class:`Route` says; ``state`` is the :class:`Server` it records requests in."""

    state: Server

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        self.state.requests.append((self.path, dict(self.headers)))
        route = self.state.routes.get(self.path)
        if route is None or route.behaviour == "404":
            self.send_error(404)
            return
        route.hits += 1
        if route.behaviour == "403":
            self.send_error(403)
        elif route.behaviour == "500-once" and route.hits == 1:
            self.send_error(500)
        elif route.behaviour == "redirect-loop":
            self._head(302, {"Location": self.path, "Content-Length": "0"})
        elif route.behaviour == "silent":
            self._wait_for_hangup()
        elif route.behaviour in ("slow", "endless"):
            self._trickle(route)
        elif route.behaviour == "ignore-range":
            self._send(route, 0)
        elif route.behaviour == "cut-once" and route.hits == 1:
            self._send(route, self._range_start(route), then="cut")
        else:
            self._send(route, self._range_start(route), then="stall" if route.behaviour == "stall" else "")

    def _range_start(self, route: Route) -> int:
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        validators = (route.headers.get("ETag"), route.headers.get("Last-Modified"))
        if not match or self.headers.get("If-Range", validators[0]) not in validators:
            return 0
        return int(match.group(1))

    def _head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _send(self, route: Route, start: int, then: str = "") -> None:
        """Answer a GET from byte ``start``; ``then`` "cut" or "stall" sends half and hangs up or goes quiet."""
        body = route.body
        if start >= len(body) and start:
            self._head(416, {"Content-Range": f"bytes */{len(body)}", "Content-Length": "0"})
            return
        headers = {**route.headers, "Content-Length": str(len(body) - start)}
        if start:
            headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
        self._head(206 if start else 200, headers)
        rest = body[start:]
        self.wfile.write(rest[: len(rest) // 2] if then else rest)
        if then == "cut":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif then == "stall":
            self._wait_for_hangup()

    def _wait_for_hangup(self) -> None:
        """Send nothing more until the client gives up (at most 20 s, so a broken test cannot hang the run)."""
        self.connection.settimeout(20)
        try:
            self.connection.recv(1)
        except OSError:
            pass
        self.close_connection = True

    def _trickle(self, route: Route) -> None:
        """A body without end (HTTP/1.0, no Content-Length): a byte per 0.1 s, or ``body`` over and over."""
        self._head(200, route.headers)
        piece, pause = (b"x", 0.1) if route.behaviour == "slow" else (route.body, 0.0)
        deadline = time.monotonic() + 20
        try:
            while time.monotonic() < deadline:
                self.wfile.write(piece)
                time.sleep(pause)
        except OSError:
            pass  # the client hung up, as the test expects


def make_handler(server: Server) -> type[BaseHTTPRequestHandler]:
    """A handler class bound to ``server``'s routes (http.server makes one handler per request)."""
    return type("Handler", (_Handler,), {"state": server})
