"""``scribe serve``: the real server on 127.0.0.1, talked to over HTTP as the page and other clients do."""

from __future__ import annotations

import concurrent.futures
import json
import signal
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from helpers.cli import assert_one_line_error, scribe  # noqa: E402
from helpers.serving import Running, served, served_here, wait_for  # noqa: E402
from scribe.serve.app import DOWNLOADS, create_app  # noqa: E402
from scribe.serve.jobs import WritingService  # noqa: E402
from scribe.serve.requests import LIMITS, Limits  # noqa: E402
from scribe.writing.document import Scribe  # noqa: E402

MAGIC = {"svg": b"<?xml", "animated-svg": b"<?xml", "png": b"\x89PNG", "pdf": b"%PDF", "gif": b"GIF89a", "gcode": b";"}


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    with served() as running:
        yield running


def test_the_page_and_its_assets_come_from_the_package_and_nothing_else_does(server: Running) -> None:
    page = requests.get(server.url, timeout=10)
    assert page.status_code == 200 and "/assets/app.js" in page.text and "http" not in page.text.split("<body>")[1]
    assert "default-src 'self'" in page.headers["Content-Security-Policy"], "no script or style from elsewhere"
    for name in ("app.js", "style.css"):
        assert requests.get(server.url + "assets/" + name, timeout=10).status_code == 200
    for probe in ("assets/..%2Fapp.py", "assets/%2E%2E/app.py", "assets/app.py", "assets/../jobs.py"):
        assert requests.get(server.url + probe, timeout=10).status_code == 404, probe


def test_info_says_what_the_server_offers(server: Running) -> None:
    info = requests.get(server.url + "api/info", timeout=30).json()
    assert info["models"][0] == {"name": "graves-iam-unipen", "styles": 12}
    assert info["downloads"] == list(DOWNLOADS) and "auto" in info["pages"] and info["defaults"]["candidates"] == 3


def test_a_writing_streams_drafts_then_pages_then_done_and_a_seed_repeats_it(server: Running) -> None:
    body = {"text": "Dear Ada,\nSee you on Sunday 14 March at 3pm.", "seed": 3, "style": 2}
    events = server.write(body)
    kinds = [event["event"] for event in events]
    assert kinds[:2] == ["started", "pages"] and kinds[-1] == "done", kinds
    assert kinds.count("draft") == 2 and kinds.index("draft") < kinds.index("page"), "each line shows before its page"
    draft = next(event for event in events if event["event"] == "draft")
    xs = [x for stroke in draft["strokes"] for x, _ in stroke]
    assert 0 < min(xs) < max(xs) < events[1]["width"], "drafts are placed on the page, in mm"
    page = next(event for event in events if event["event"] == "page")
    assert page["svg"].startswith("<?xml") and "<path" in page["svg"]
    again = server.write(body)
    assert next(event for event in again if event["event"] == "page")["svg"] == page["svg"]


def test_every_download_is_the_file_it_says(server: Running) -> None:
    done = server.write({"text": "A note to download.", "seed": 1, "candidates": 1})[-1]
    for name, magic in MAGIC.items():
        response = requests.get(f"{server.url}api/documents/{done['document']}/{name}", timeout=60)
        assert response.status_code == 200 and response.content.startswith(magic), name
        assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    for path, status in ((f"{done['document']}/exe", 404), ("0123abcd/svg", 404), (f"{done['document']}/svg?page=2", 400)):
        response = requests.get(f"{server.url}api/documents/{path}", timeout=10)
        assert response.status_code == status and set(response.json()) == {"error"}, path


BAD_REQUESTS: list[tuple[Any, str]] = [
    ({"text": ""}, "`text` is missing or empty"),
    ({"text": "hi", "model": "/etc/passwd"}, "unknown model"),
    ({"text": "hi", "model": "recognizer-iam"}, "unknown model"),  # a reader, not a writer
    ({"text": "hi", "bias": "neat"}, "`bias` must be a number"),
    ({"text": "hi", "bias": 50}, "`bias` 50 must be above"),
    ({"text": "hi", "seed": True}, "`seed` must be a whole number"),
    ({"text": "hi", "seed": -1}, "`seed` must be a whole number from 0"),
    ({"text": "hi", "colour": "red"}, "unknown field 'colour'"),
    ({"text": "hi", "page": "a0"}, "unknown page"),
    ({"text": "hi", "ink": "not-a-colour"}, "colour"),
    ({"text": "hi", "candidates": 99}, "`candidates` must be from 1 to 5"),
    ({"text": "x" * (LIMITS.text_chars + 1)}, "characters"),
    ({"text": "hi", "sample": {"text": "hi", "strokes": [[[0, 0]] * (LIMITS.sample_points + 1)]}}, "points"),
    ({"text": "hi", "sample": {"text": "a" * 100_000, "strokes": [[[0, 0], [1, 1], [2, 0]]]}}, "one line of handwriting"),
    ([1, 2], "one JSON object"),
]


@pytest.mark.parametrize(("body", "reason"), BAD_REQUESTS)
def test_bad_requests_are_refused_with_a_one_line_reason_before_they_wait(server: Running, body: Any, reason: str) -> None:
    response = requests.post(server.url + "api/write", json=body, timeout=30)
    assert response.status_code == 400 and reason in response.json()["error"], response.text
    assert "\n" not in response.json()["error"]


@pytest.mark.parametrize(("body", "reason"), [
    ({"text": "hi", "style": 99}, "style 99 does not exist"),
    ({"text": "hi", "sample": {"text": "hi", "strokes": [[[0, "x"]]]}}, "handwriting sample"),
])
def test_what_needs_the_model_is_refused_in_its_turn_as_the_streams_last_event(server: Running, body: Any,
                                                                                 reason: str) -> None:
    last = server.write(body)[-1]
    assert last["event"] == "error" and reason in last["message"] and "\n" not in last["message"]


def test_a_body_over_the_limit_is_refused_before_it_is_read_whole(server: Running) -> None:
    json_type = {"Content-Type": "application/json"}
    response = requests.post(server.url + "api/write", data=b"{" + b" " * (LIMITS.body_bytes + 10), headers=json_type,
                             timeout=30)
    assert response.status_code == 413
    response = requests.post(server.url + "api/write", data=b"{\"text\": \xff}", headers=json_type, timeout=30)
    assert response.status_code == 400 and "not JSON" in response.json()["error"]


def test_other_web_pages_cannot_make_it_write(server: Running) -> None:
    """A page elsewhere may POST text/plain without asking, or reach the port through a name of its own."""
    response = requests.post(server.url + "api/write", data='{"text": "hi"}', headers={"Content-Type": "text/plain"},
                             timeout=30)
    assert response.status_code == 415
    response = requests.post(server.url + "api/write", json={"text": "hi"}, headers={"Host": "evil.example"}, timeout=30)
    assert response.status_code == 400


def test_a_captured_sample_of_handwriting_is_a_style(server: Running) -> None:
    own = Scribe().write("the quick brown fox", seed=5, candidates=1).pages[0].lines[0].strokes  # a hand, in mm
    sample = {"text": "the quick brown fox", "strokes": [stroke.round(2).tolist() for stroke in own],
              "times_ms": [list(range(0, 10 * len(stroke), 10)) for stroke in own]}
    events = server.write({"text": "Written in my own hand.", "sample": sample, "seed": 2})
    assert events[-1]["event"] == "done", events[-1]
    assert next(event for event in events if event["event"] == "page")["svg"].count("<path") >= 1


def test_a_burst_of_fifty_requests_is_served_or_refused_and_the_server_lives_on(server: Running) -> None:
    def ask(number: int) -> int:
        response = requests.post(server.url + "api/write", json={"text": f"Request {number}.", "candidates": 1}, timeout=120)
        assert response.status_code in (200, 503), response.text
        if response.status_code == 503:
            assert response.headers["Retry-After"] and "busy" in response.json()["error"]
        return response.status_code

    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(ask, range(50)))
    assert statuses.count(200) >= 1 and statuses.count(503) >= 1
    assert server.write({"text": "Still here.", "candidates": 1})[-1]["event"] == "done"


LONG_TEXT = "\n".join(["A long line of text to keep it busy for a while."] * 78)  # 4 pages: a minute of work


def test_a_writing_past_its_time_stops() -> None:
    with served_here(WritingService(limits=Limits(seconds=0.3))) as running:
        events = running.write({"text": LONG_TEXT})
        assert events[-1]["event"] == "error" and "took over 0.3 s" in events[-1]["message"]
        assert [event["event"] for event in events].count("page") == 0


def test_a_writing_whose_client_leaves_stops_and_gives_its_place_back() -> None:
    service = WritingService()
    with served_here(service) as running:
        response = requests.post(running.url + "api/write", json={"text": LONG_TEXT}, stream=True, timeout=60)
        lines = response.iter_lines()
        assert json.loads(next(lines))["event"] == "started"
        response.close()  # the client goes away mid-writing
        start = time.monotonic()
        assert running.write({"text": "Next.", "candidates": 1})[-1]["event"] == "done"
        assert time.monotonic() - start < 5, "the abandoned writing stopped instead of running to its end"
        wait_for(lambda: service.in_line == 0, 10)  # every place in line is given back


def test_the_openapi_description_covers_every_route() -> None:
    app = create_app(WritingService())
    routes = {route.path.replace("{style:int}", "{style}") for route in app.routes if route.path.startswith("/api")}
    with served_here(WritingService()) as running:
        described = requests.get(running.url + "api/openapi.json", timeout=10).json()
    assert described["openapi"].startswith("3.") and set(described["paths"]) == routes


def test_ctrl_c_stops_the_server_cleanly() -> None:
    with served() as running:
        assert running.process is not None
        running.process.send_signal(signal.SIGINT)
        assert running.process.wait(timeout=20) == 0
        assert running.process.stderr is not None and "stopped" in running.process.stderr.read()


def test_a_port_in_use_is_a_one_line_error_and_the_network_gets_a_warning() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert_one_line_error(scribe("serve", "--port", str(taken.getsockname()[1]), timeout=30), "cannot listen", "--port")
    with served("--host", "0.0.0.0") as running:
        assert running.process is not None
        running.process.send_signal(signal.SIGINT)
        running.process.wait(timeout=20)
        assert running.process.stderr is not None and "warning: listening on 0.0.0.0" in running.process.stderr.read()
