"""Starting and stopping the emulator: threads, ports, restarts, the async mode and the CLI."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest

from rhdesk.emulator import Emulator, EmulatorConfig, Fault
from rhdesk.emulator.cli import build_parser, config_from_args


def _port(base_url: str) -> int:
    port = urlsplit(base_url).port
    assert port is not None
    return port


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_start_and_stop_twice_frees_the_port() -> None:
    emu = Emulator(EmulatorConfig(api_keys=frozenset({"k"})))
    with pytest.raises(RuntimeError):
        _ = emu.base_url
    for _ in range(2):
        base_url = emu.start()
        assert emu.start() == base_url  # a second start is a no-op
        assert emu.running
        port = _port(base_url)
        assert not _port_is_free(port)
        reply = httpx.get(
            f"{base_url}/openapi/v2/queue/status", headers={"Authorization": "Bearer k"}
        )
        assert reply.json()["code"] == 0
        emu.stop()
        emu.stop()  # idempotent
        assert not emu.running
        assert _port_is_free(port)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base_url}/openapi/v2/queue/status")
    assert not [t for t in threading.enumerate() if t.name == "rhdesk-emulator"]


def test_two_emulators_side_by_side() -> None:
    with Emulator() as a, Emulator() as b:
        assert a.base_url != b.base_url
        assert a.api_key == "demo-key"


def test_fixed_port_in_use_raises_from_start() -> None:
    with Emulator() as first:
        taken = _port(first.base_url)
        second = Emulator(EmulatorConfig(port=taken))
        with pytest.raises(OSError):
            second.start()
        assert not second.running
        second.stop()  # harmless


def test_stop_does_not_wait_for_requests_held_by_latency(api, emu: Emulator) -> None:
    emu.add_fault(Fault("queue", "latency", times=1, seconds=30))
    errors: list[BaseException] = []

    def held_request() -> None:
        try:
            api.http.get("/openapi/v2/queue/status", headers=api.auth, timeout=20)
        except httpx.HTTPError as exc:
            errors.append(exc)

    caller = threading.Thread(target=held_request)
    caller.start()
    # the fault is used up the moment the request reaches the server
    api.wait_for(lambda: not emu.faults(), what="the request to arrive", timeout=5)
    started = time.monotonic()
    emu.stop()
    assert time.monotonic() - started < 5
    caller.join(10)
    assert not caller.is_alive()
    assert errors  # the held request was cut off, not answered


def test_unfinished_tasks_resume_after_a_restart(launch) -> None:
    api = launch(queue_seconds=0.05, run_seconds=0.6)
    emu = api.emu
    task_id = api.submit(api.edit_body([api.upload()]))["taskId"]
    emu.stop()
    base_url = emu.start()
    api.http.close()
    api.http = httpx.Client(base_url=base_url, timeout=10)
    reply, _ = api.wait(task_id)
    assert reply["status"] == "SUCCESS"
    assert httpx.get(reply["results"][0]["url"]).status_code == 200


def test_concurrent_submits_from_many_threads_respect_the_limit(api, emu: Emulator) -> None:
    url = api.upload()
    body = api.edit_body([url])

    def submit(n: int) -> str:
        with httpx.Client(base_url=emu.base_url, timeout=10) as http:
            path = f"/openapi/v2/{api.I2I}"
            reply = http.post(path, headers=api.auth, json={**body, "prompt": f"Edit number {n}"})
            return reply.json()["errorCode"] or reply.json()["status"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(submit, range(8)))
        # meanwhile the facade is read from this thread
        snapshots = [len(emu.tasks()) for _ in range(20)]
    assert sorted(outcomes) == ["1520"] * 5 + ["QUEUED"] * 3
    assert emu.submit_count == 3 and emu.max_concurrent_seen == 3
    assert max(snapshots) <= 3


async def test_async_mode_serves_on_the_running_loop() -> None:
    emu = Emulator(EmulatorConfig(api_keys=frozenset({"k"}), queue_seconds=0, run_seconds=0.05))
    base_url = await emu.start_async()
    try:
        async with httpx.AsyncClient(base_url=base_url) as http:
            reply = await http.post("/uc/openapi/accountStatus", json={"apikey": "k"})
            assert reply.json()["data"]["remainCoins"] == "100000"
            body = {"prompt": "A lighthouse at dusk", "width": 960, "height": 960}
            task = await http.post(
                "/openapi/v2/seedream-v4/text-to-image",
                headers={"Authorization": "Bearer k"},
                json=body,
            )
            assert task.json()["status"] == "QUEUED"
    finally:
        await emu.stop_async()
    assert not emu.running
    assert _port_is_free(_port(base_url))


def test_cli_arguments_make_a_config() -> None:
    args = build_parser().parse_args(
        ["--port", "0", "--key", "a", "--key", "b", "--queue-seconds", "0.5", "--run-seconds", "2"]
    )
    cfg = config_from_args(args)
    assert cfg.api_keys == frozenset({"a", "b"})
    assert (cfg.port, cfg.queue_seconds, cfg.run_seconds) == (0, 0.5, 2.0)
    assert config_from_args(build_parser().parse_args([])).api_keys == frozenset({"demo-key"})


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child is POSIX-only")
def test_cli_serves_until_ctrl_c() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "rhdesk.emulator", "--port", "0", "--key", "cli-key"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert first.startswith("RunningHub emulator at http://127.0.0.1:")
        base_url = first.rsplit(" ", 1)[1]
        assert proc.stdout.readline().strip() == "API key: cli-key"
        reply = httpx.get(
            f"{base_url}/openapi/v2/queue/status", headers={"Authorization": "Bearer cli-key"}
        )
        assert reply.json()["code"] == 0
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
