"""The whole flow against the RunningHub emulator over real loopback sockets."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rhdesk.api import RunningHubClient, TaskNotFoundError, TaskStatus
from rhdesk.emulator import Emulator, EmulatorConfig

KEY = "emu-key-for-api-tests"
TESTDATA = Path(os.environ.get("RHDESK_TESTDATA", "/work/shared/testdata"))


@pytest.fixture
def emu() -> Iterator[Emulator]:
    config = EmulatorConfig(api_keys=frozenset({KEY}), queue_seconds=0.05, run_seconds=0.1)
    server = Emulator(config)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_upload_submit_poll_download(emu: Emulator, tmp_path: Path) -> None:
    photo = TESTDATA / "astronaut.png"
    if not photo.exists():
        pytest.skip("shared test photographs are missing")
    data = photo.read_bytes()
    progress: list[tuple[int, int]] = []
    async with RunningHubClient(KEY, emu.base_url, timeout=10) as client:
        account = await client.account_status()
        assert account.remain_coins is not None
        queue = await client.queue_status()
        assert queue.concurrent_limit is not None

        upload = await client.upload(
            data, "astronaut.png", progress=lambda s, t: progress.append((s, t))
        )
        assert progress[-1][0] == progress[-1][1]
        state = await client.submit(
            "seedream-v4/image-to-image",
            {
                "prompt": "Make it a watercolour painting",
                "width": 960,
                "height": 960,
                "imageUrls": [upload.download_url],
                "sequentialImageGeneration": "disabled",
                "maxImages": 1,
            },
        )
        for _ in range(200):
            state = await client.query(state.task_id)
            if state.status.is_final:
                break
            await asyncio.sleep(0.05)
        assert state.status is TaskStatus.SUCCESS, state
        assert state.results

        dest = tmp_path / "result.part"
        written = await client.download(state.results[0].url, dest)
        assert written == dest.stat().st_size > 0

        with pytest.raises(TaskNotFoundError):
            await client.query("999999999999")
