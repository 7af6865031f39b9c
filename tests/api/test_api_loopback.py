"""The client over real loopback sockets: what httpx really raises when a server hangs up."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rhdesk.api import OutcomeUnknownError, RequestNeverSentError, RunningHubClient, TaskStatus

KEY = "rhk-LOOPBACK-0a1b2c3d4e5f"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.posts: list[str] = []
        self.auth: list[str | None] = []


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        with self.server.lock:
            self.server.posts.append(self.path)
            self.server.auth.append(self.headers.get("Authorization"))
        if self.path == "/openapi/v2/query":
            body = json.dumps({"taskId": "t1", "status": "running", "results": None}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        # The submit arrived in full, and the server hangs up without a word: did it run?
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


async def no_sleep(_delay: float) -> None:
    pass


async def test_submit_hang_up_is_outcome_unknown_after_one_request(
    server: _Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    async with RunningHubClient(KEY, base, timeout=5, sleep=no_sleep) as client:
        with pytest.raises(OutcomeUnknownError):
            await client.submit("seedream-v4.5/text-to-image", {"prompt": "a quiet lake"})
        # The same client still works for reads afterwards.
        state = await client.query("t1")
    assert state.status is TaskStatus.RUNNING
    assert server.posts == ["/openapi/v2/seedream-v4.5/text-to-image", "/openapi/v2/query"]
    assert server.auth == [f"Bearer {KEY}"] * 2
    # httpx and httpcore log at debug level too: none of it may carry the key.
    assert KEY not in caplog.text


async def test_connection_refused_is_never_sent_and_retried() -> None:
    # A port that was just free: nothing listens there.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    delays: list[float] = []

    async def record(delay: float) -> None:
        delays.append(delay)

    async with RunningHubClient(KEY, f"http://127.0.0.1:{port}", sleep=record) as client:
        with pytest.raises(RequestNeverSentError):
            await client.submit("seedream-v4/text-to-image", {"prompt": "a quiet lake"})
    assert len(delays) == 4
