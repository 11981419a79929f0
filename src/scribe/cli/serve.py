"""``scribe serve``: the local web page and its API (the ``[serve]`` extra: Starlette and uvicorn)."""

from __future__ import annotations

import ipaddress
import socket
import threading
import webbrowser
from importlib.util import find_spec
from typing import Annotated

import typer

from scribe.cli.core import app, stderr
from scribe.errors import ScribeError


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bound_socket(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free one), or a one-line error saying why not."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ScribeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port or --host") from None
    sock.listen(128)
    return sock


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option("--host", metavar="ADDRESS", help="Address to listen on; 0.0.0.0 opens the page to your network.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", metavar="N", min=0, max=65535, help="Port to listen on (0: any free one).")] = 8000,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the page in your web browser.")] = False,
) -> None:
    """A local web page to write, watch it being written, tune and download, and to give scribe your own hand.

    Stop it with Ctrl-C. The API beneath the page is described at /api/openapi.json.
    """
    if find_spec("starlette") is None or find_spec("uvicorn") is None:
        raise ScribeError('scribe serve needs the [serve] extra: pip install "scribe-handwriting[serve]"')
    import uvicorn

    from scribe.serve.app import LOOPBACK_HOSTS, create_app

    sock = _bound_socket(host, port)
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{sock.getsockname()[1]}/"
    # On the loopback the page answers only to loopback names; on one address, to it and those; on all, to any name.
    hosts = None
    if not _is_loopback(host):
        stderr.print(f"warning: listening on {host}: anyone who can reach this computer on the network can use the page")
        hosts = ["*"] if host in ("0.0.0.0", "::") else [host, *LOOPBACK_HOSTS]
    app = create_app(hosts=hosts)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5, limit_concurrency=64))
    print(f"scribe serve: {url} (Ctrl-C stops it)", flush=True)
    if open_browser:
        threading.Timer(0.5, webbrowser.open, [url]).start()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn stops gracefully on Ctrl-C, then raises it again: stopping is this command's end
        pass
    stderr.print("scribe serve: stopped")
