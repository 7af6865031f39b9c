"""Fixtures for the emulator tests: a running emulator and a raw httpx caller for it.

The caller speaks RunningHub's documented shapes with plain httpx, deliberately not rhdesk's
client. Everything is reached through fixtures: the suite runs with --import-mode=importlib,
where test modules cannot import a shared helper module.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rhdesk.emulator import Emulator, EmulatorConfig

# The shared sample photographs beside the repository; RHDESK_TESTDATA points elsewhere.
TESTDATA = Path(
    os.environ.get("RHDESK_TESTDATA") or Path(__file__).resolve().parents[3] / "shared" / "testdata"
)
FINAL = {"SUCCESS", "FAILED", "CANCEL"}


class Api:
    KEY = "test-key"
    OTHER_KEY = "other-key"
    # Seedream 4.0 takes 921,600 px at least: the smallest sizes keep rendering and PNG cheap.
    I2I = "seedream-v4/image-to-image"
    T2I = "seedream-v4/text-to-image"

    def __init__(self, emu: Emulator, key: str = KEY) -> None:
        self.emu = emu
        self.key = key
        self.http = httpx.Client(base_url=emu.base_url, timeout=10)

    @staticmethod
    def config(**overrides: Any) -> EmulatorConfig:
        values: dict[str, Any] = {
            "api_keys": frozenset({Api.KEY, Api.OTHER_KEY}),
            "queue_seconds": 0.1,
            "run_seconds": 0.2,
        }
        values.update(overrides)
        return EmulatorConfig(**values)

    @staticmethod
    def photo(name: str = "astronaut.png") -> bytes:
        path = TESTDATA / name
        if not path.exists():
            pytest.skip(f"shared test photo missing: {path}")
        return path.read_bytes()

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def as_key(self, key: str) -> Api:
        return Api(self.emu, key)

    def upload_bytes(self, data: bytes, name: str = "in.png") -> httpx.Response:
        return self.http.post(
            "/openapi/v2/media/upload/binary", headers=self.auth, files={"file": (name, data)}
        )

    def upload(self, name: str = "astronaut.png") -> str:
        reply = self.upload_bytes(self.photo(name), name).json()
        assert reply["code"] == 0, reply
        return reply["data"]["download_url"]

    @staticmethod
    def edit_body(
        urls: list[str], prompt: str = "Turn the scene into a snowy night", **kw: Any
    ) -> dict:
        body: dict[str, Any] = {
            "prompt": prompt,
            "width": 1280,
            "height": 720,
            "imageUrls": urls,
            "sequentialImageGeneration": "disabled",
            "maxImages": 1,
        }
        body.update(kw)
        return body

    def submit(self, body: dict[str, Any], endpoint: str = I2I) -> dict[str, Any]:
        return self.http.post(f"/openapi/v2/{endpoint}", headers=self.auth, json=body).json()

    def query(self, task_id: str) -> dict[str, Any]:
        return self.http.post(
            "/openapi/v2/query", headers=self.auth, json={"taskId": task_id}
        ).json()

    def wait(self, task_id: str, timeout: float = 8.0) -> tuple[dict[str, Any], list[str]]:
        """Poll until the task is final; returns the last reply and the statuses seen in order."""
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self.query(task_id)
            if not seen or seen[-1] != reply["status"]:
                seen.append(reply["status"])
            if reply["status"] in FINAL:
                return reply, seen
            time.sleep(0.03)
        raise AssertionError(f"task {task_id} not final after {timeout}s; saw {seen}")

    @staticmethod
    def wait_for(predicate: Callable[[], bool], timeout: float = 8.0, what: str = "it") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}")

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(Api.config()) as e:
        yield e


@pytest.fixture
def api(emu: Emulator) -> Iterator[Api]:
    client = Api(emu)
    yield client
    client.close()


@pytest.fixture
def launch() -> Iterator[Callable[..., Api]]:
    """launch(**config_overrides) -> Api on a fresh emulator, stopped after the test."""
    started: list[tuple[Emulator, Api]] = []

    def _launch(**overrides: Any) -> Api:
        emulator = Emulator(Api.config(**overrides))
        emulator.start()
        client = Api(emulator)
        started.append((emulator, client))
        return client

    yield _launch
    for emulator, client in started:
        client.close()
        emulator.stop()
