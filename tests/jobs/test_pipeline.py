"""The pipeline against the emulator over real loopback sockets, faults included."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from rhdesk.api.client import RunningHubClient
from rhdesk.core.task import TaskSpec
from rhdesk.emulator import Fault
from rhdesk.jobs.pipeline import JobRunner, PollPolicy, RunnerConfig
from rhdesk.store import db as S
from rhdesk.store.db import Store

I2I = "seedream-v4/image-to-image"
T2I = "seedream-v4/text-to-image"


class Harness:
    def __init__(self, tmp_path: Path, emu, *, key="test-key", base_url=None, **cfg):
        self.tmp = tmp_path
        self.emu = emu
        self.store = Store(tmp_path / "history.sqlite3")
        self.client = RunningHubClient(
            key, base_url or emu.base_url, backoff_base=0.01, backoff_max=0.05
        )
        poll = cfg.pop("poll", PollPolicy(first=0.05, max_interval=0.1))
        self.config = RunnerConfig(
            library=tmp_path / "library", inputs_dir=tmp_path / "inputs", poll=poll,
            capacity_wait=0.05, capacity_wait_max=0.2, **cfg,
        )  # fmt: skip
        self.runner = self.new_runner()

    def new_runner(self) -> JobRunner:
        self.events = []
        runner = JobRunner(self.store, self.client, self.config)
        runner.subscribe(self.events.append)
        return runner

    def statuses(self, task_id: int) -> list[str]:
        out = []
        for e in self.events:
            if e.task_id == task_id and (not out or out[-1] != e.status):
                out.append(e.status)
        return out

    async def close(self):
        await self.runner.aclose()
        await self.client.aclose()
        self.store.close()


@pytest.fixture
async def h(tmp_path, emulator):
    harness = Harness(tmp_path, emulator)
    yield harness
    await harness.close()


def spec(photos, prompt="make the sky stormy", endpoint=I2I, w=1024, h=1024, inputs=None, **kw):
    images = [photos["chelsea"]] if inputs is None else inputs
    return TaskSpec(endpoint, prompt, w, h, inputs=images if endpoint == I2I else [], **kw)


async def test_edit_end_to_end_saves_a_real_result(h, photos):
    tid = await h.runner.start_task(spec(photos, w=1280, h=960))
    rec = await h.runner.wait(tid)
    assert rec.status == S.SUCCEEDED, rec.error_message
    assert h.statuses(tid) == [
        S.PENDING, S.PREPARING, S.UPLOADING, S.SUBMITTING, S.QUEUED, S.RUNNING, S.DOWNLOADING, S.SUCCEEDED,
    ]  # fmt: skip
    (path,) = rec.result_paths
    assert path.parent == (h.tmp / "library").resolve() and path.suffix == ".png"
    with Image.open(path) as out, Image.open(photos["chelsea"]) as src:
        assert out.size == (1280, 960)
        diff = ImageChops.difference(out.convert("RGB"), src.convert("RGB").resize(out.size))
        assert max(hi for _lo, hi in diff.getextrema()) > 40  # visibly edited
    assert rec.remote_id and h.emu.submit_count == 1
    assert rec.cost_coins == 20 and rec.cost_money == pytest.approx(0.14)
    assert rec.inputs[0].local_path and Path(rec.inputs[0].local_path).exists()
    uploads = [e for e in h.events if e.task_id == tid and e.upload_fraction is not None]
    assert uploads[-1].upload_fraction == 1.0
    assert not list((h.tmp / "library").glob("*.part"))


async def test_text_to_image_sequential_set(h, photos):
    tid = await h.runner.start_task(spec(photos, endpoint=T2I, max_images=3, sequential=True))
    rec = await h.runner.wait(tid)
    assert rec.status == S.SUCCEEDED
    assert len(rec.result_paths) == 3
    assert len({p.read_bytes() for p in rec.result_paths}) == 3
    assert rec.result_paths[0].name.startswith("text_seedream-v4_")


@pytest.mark.parametrize(
    "fault",
    [
        Fault("query", "http_status", times=2, status=500),
        Fault("query", "malformed", times=2),
        Fault("query", "rate_limit", times=1, retry_after=0.05),
        Fault("query", "drop", times=2),
        Fault("upload", "http_status", times=2, status=502),
        Fault("upload", "drop", times=1),
        Fault("upload", "api_error", times=1, code="401", message="ApiKey verification failed"),
        Fault("submit", "rate_limit", times=2, retry_after=0.05),
        Fault("submit", "api_error", times=3, code="1520", message="concurrency limit"),
        Fault("download", "http_status", times=2, status=503),
        Fault("download", "drop", times=1),
        Fault("account", "http_status", status=500),
        Fault("queue", "malformed"),
        Fault("*", "latency", times=5, seconds=0.05),
    ],
    ids=lambda f: f"{f.endpoint}-{f.kind}",
)
async def test_transient_faults_are_absorbed_without_a_second_submit(h, photos, fault):
    h.emu.add_fault(fault)
    tid = await h.runner.start_task(spec(photos))
    rec = await h.runner.wait(tid)
    assert rec.status == S.SUCCEEDED, rec.error_message
    assert h.emu.submit_count == 1
    assert len(rec.result_paths) == 1 and rec.result_paths[0].exists()


@pytest.mark.parametrize("kind", ["drop", "drop_after"])
async def test_lost_submit_reply_is_unknown_and_never_resent(h, photos, kind):
    h.emu.add_fault(Fault("submit", kind, times=1))
    tid = await h.runner.start_task(spec(photos))
    rec = await h.runner.wait(tid)
    assert rec.status == S.UNKNOWN
    assert "not known whether" in rec.error_message and "call record" in rec.error_message
    created = h.emu.submit_count
    assert created == (1 if kind == "drop_after" else 0)
    # a restart must not resend it either
    await h.runner.aclose()
    h.runner = h.new_runner()
    assert await h.runner.resume() == []
    await h.runner.wait_all()
    assert h.emu.submit_count == created
    assert h.store.get(tid).status == S.UNKNOWN
    assert any(e.status == S.UNKNOWN for e in h.events)


async def test_submit_server_error_is_not_resent(h, photos):
    h.emu.add_fault(Fault("submit", "http_status", times=1, status=500))
    tid = await h.runner.start_task(spec(photos))
    rec = await h.runner.wait(tid)
    assert rec.status == S.FAILED and "most likely not started" in rec.error_message
    assert h.emu.submit_count == 0


async def test_failed_task_shows_the_reason(h, photos):
    h.emu.add_fault(Fault("submit", "fail_task", times=1, error_code="1505", message="real person"))
    tid = await h.runner.start_task(spec(photos))
    rec = await h.runner.wait(tid)
    assert rec.status == S.FAILED
    assert rec.error_code == "1505"
    assert "refused" in rec.error_message and "prompt" in rec.error_message
    final = [e for e in h.events if e.task_id == tid][-1]
    assert final.final and final.error == rec.error_message


async def test_expired_result_link_is_explained(h, photos):
    h.emu.add_fault(Fault("*", "expired_links", times=1))
    tid = await h.runner.start_task(spec(photos))
    rec = await h.runner.wait(tid)
    assert rec.status == S.FAILED
    assert "expired" in rec.error_message
    assert rec.results[0].state == S.RESULT_EXPIRED
    assert rec.cost_coins == 20  # it was charged: the record says so
    assert not list((h.tmp / "library").glob("*"))  # no partial file posing as a result


async def test_concurrency_limit_is_read_from_the_server_and_respected(
    tmp_path, emulator_factory, photos
):
    emu = emulator_factory(concurrency_limit=2, queue_seconds=0.1, run_seconds=0.3)
    h = Harness(tmp_path, emu)
    try:
        ids = [
            await h.runner.start_task(spec(photos, prompt=f"variation number {i}"))
            for i in range(5)
        ]
        await h.runner.wait_all()
        assert [h.store.get(i).status for i in ids] == [S.SUCCEEDED] * 5, [
            h.store.get(i).error_message for i in ids
        ]
        assert emu.max_concurrent_seen == 2
        assert emu.submit_count == 5
    finally:
        await h.close()


async def test_capacity_errors_wait_and_retry_when_the_local_limit_is_too_high(
    tmp_path, emulator_factory, photos
):
    emu = emulator_factory(concurrency_limit=1, queue_seconds=0.05, run_seconds=0.2)
    h = Harness(tmp_path, emu, concurrency=4)
    h.emu.add_fault(Fault("queue", "http_status", status=500))  # the limit cannot be read
    try:
        ids = [
            await h.runner.start_task(spec(photos, prompt=f"variation number {i}"))
            for i in range(3)
        ]
        await h.runner.wait_all()
        assert [h.store.get(i).status for i in ids] == [S.SUCCEEDED] * 3
        assert emu.submit_count == 3 and emu.max_concurrent_seen == 1
        assert any("Trying again" in e.message for e in h.events)
    finally:
        await h.close()


async def test_balance_too_low(tmp_path, emulator_factory, photos):
    emu = emulator_factory(coins=5)
    h = Harness(tmp_path, emu)
    try:
        rec = await h.runner.wait(await h.runner.start_task(spec(photos)))
        assert rec.status == S.FAILED and "balance" in rec.error_message.lower()
        assert "Top up" in rec.error_message and emu.submit_count == 0
    finally:
        await h.close()


async def test_wrong_key(tmp_path, emulator, photos):
    h = Harness(tmp_path, emulator, key="wrong-key-123")
    try:
        rec = await h.runner.wait(await h.runner.start_task(spec(photos)))
        assert rec.status == S.FAILED and "key" in rec.error_message.lower()
        assert "wrong-key-123" not in rec.error_message
        assert emulator.submit_count == 0
    finally:
        await h.close()


async def test_no_network(tmp_path, emulator, photos):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    h = Harness(tmp_path, emulator, base_url=f"http://127.0.0.1:{port}")
    try:
        rec = await h.runner.wait(await h.runner.start_task(spec(photos)))
        assert rec.status == S.FAILED and "could not be reached" in rec.error_message
    finally:
        await h.close()


async def test_unusable_input_names_the_file(h, tmp_path):
    bad = tmp_path / "holiday.jpg"
    bad.write_text("not an image at all")
    rec = await h.runner.wait(
        await h.runner.start_task(TaskSpec(I2I, "make it snow", 1024, 1024, [bad]))
    )
    assert rec.status == S.FAILED and "holiday.jpg" in rec.error_message
    assert h.emu.submit_count == 0


async def test_cancel_before_submit_costs_nothing(h, photos):
    h.emu.add_fault(Fault("upload", "latency", seconds=0.5))
    tid = await h.runner.start_task(spec(photos))
    while h.store.get(tid).status != S.UPLOADING:
        await asyncio.sleep(0.01)
    msg = await h.runner.cancel(tid)
    assert "nothing was charged" in msg
    rec = await h.runner.wait(tid)
    assert rec.status == S.CANCELLED and h.emu.submit_count == 0


async def test_cancel_refused_keeps_watching_and_saves_a_late_result(h, photos):
    tid = await h.runner.start_task(spec(photos))
    while not h.store.get(tid).remote_id:
        await asyncio.sleep(0.01)
    msg = await h.runner.cancel(tid)
    assert "may still finish" in msg and "keeps watching" in msg
    rec = await h.runner.wait(tid)
    assert rec.status == S.SUCCEEDED and rec.result_paths[0].exists() and rec.cost_coins == 20
    assert rec.cancel_requested


async def test_cancel_accepted_by_the_server(tmp_path, emulator_factory, photos):
    emu = emulator_factory(cancel_model_tasks=True, queue_seconds=0.5, run_seconds=0.5)
    h = Harness(tmp_path, emu)
    try:
        tid = await h.runner.start_task(spec(photos))
        while not h.store.get(tid).remote_id:
            await asyncio.sleep(0.01)
        assert "accepted" in await h.runner.cancel(tid)
        rec = await h.runner.wait(tid)
        assert rec.status == S.CANCELLED and not rec.result_paths
    finally:
        await h.close()


async def test_resume_after_the_app_stopped_mid_poll(h, photos):
    h.emu  # noqa: B018
    tid = await h.runner.start_task(spec(photos))
    while h.store.get(tid).status not in (S.QUEUED, S.RUNNING):
        await asyncio.sleep(0.01)
    await h.runner.aclose()  # the app goes away while the task runs remotely
    assert h.store.get(tid).status in (S.QUEUED, S.RUNNING)
    h.runner = h.new_runner()
    assert await h.runner.resume() == [tid]
    rec = await h.runner.wait(tid)
    assert rec.status == S.SUCCEEDED and rec.result_paths[0].exists()
    assert h.emu.submit_count == 1


async def test_resume_before_submit_restarts_safely(h, photos):
    h.emu.add_fault(Fault("upload", "latency", seconds=0.3))
    tid = await h.runner.start_task(spec(photos))
    while h.store.get(tid).status != S.UPLOADING:
        await asyncio.sleep(0.01)
    await h.runner.aclose()
    h.emu.clear_faults()
    h.runner = h.new_runner()
    assert await h.runner.resume() == [tid]
    rec = await h.runner.wait(tid)
    assert rec.status == S.SUCCEEDED and h.emu.submit_count == 1


async def test_giving_up_then_checking_again(tmp_path, emulator_factory, photos):
    emu = emulator_factory(queue_seconds=0.1, run_seconds=0.6)
    h = Harness(tmp_path, emu, poll=PollPolicy(first=0.05, max_interval=0.05, give_up_after=0.2))
    try:
        tid = await h.runner.start_task(spec(photos))
        rec = await h.runner.wait(tid)
        assert rec.status == S.GAVE_UP and "Check again" in rec.error_message
        h.config.poll = PollPolicy(first=0.05, max_interval=0.05)
        await h.runner.check_again(tid)
        rec = await h.runner.wait(tid)
        assert rec.status == S.SUCCEEDED and emu.submit_count == 1
    finally:
        await h.close()


async def test_results_expiring_between_restart_are_reported(h, photos):
    tid = await h.runner.start_task(spec(photos))
    while h.store.get(tid).status not in (S.QUEUED, S.RUNNING):
        await asyncio.sleep(0.01)
    await h.runner.aclose()
    # while the app was closed, the task finished and its links expired
    while not any(t["status"] == "SUCCESS" for t in h.emu.tasks()):
        await asyncio.sleep(0.02)
    h.emu.expire_results()
    h.runner = h.new_runner()
    await h.runner.resume()
    rec = await h.runner.wait(tid)
    assert rec.status == S.FAILED and "expired" in rec.error_message


async def test_run_again_reuploads_from_the_local_copy(h, photos, tmp_path):
    import shutil

    original = tmp_path / "my photo.png"
    shutil.copy(photos["chelsea"], original)
    first = await h.runner.wait(await h.runner.start_task(spec(photos, inputs=[original])))
    assert first.status == S.SUCCEEDED
    original.unlink()  # the user moved the photo away; the app kept its copy
    h.emu.expire_results()
    again = await h.runner.wait(await h.runner.run_again(first.id))
    assert again.status == S.SUCCEEDED and again.id != first.id
    assert again.inputs[0].local_path == first.inputs[0].local_path
    assert again.inputs[0].uploaded_at > first.inputs[0].uploaded_at  # uploaded anew
    assert again.prompt == first.prompt and (again.width, again.height) == (
        first.width,
        first.height,
    )
    assert again.result_paths[0].name.startswith("my photo_")
    assert h.emu.submit_count == 2


async def test_saved_results_carry_prompt_model_task_and_the_source_colour_profile(
    h, photos, tmp_path
):
    from PIL import ImageCms

    from rhdesk.core.metadata import read_metadata

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = tmp_path / "tagged.png"
    Image.open(photos["chelsea"]).convert("RGB").save(src, icc_profile=icc)
    rec = await h.runner.wait(
        await h.runner.start_task(spec(photos, prompt="warm evening light", inputs=[src]))
    )
    assert rec.status == S.SUCCEEDED
    meta = read_metadata(rec.result_paths[0])
    assert meta.prompt == "warm evening light"
    assert meta.model == I2I and meta.remote_id == rec.remote_id
    with Image.open(rec.result_paths[0]) as im:
        assert im.info.get("icc_profile") == icc
