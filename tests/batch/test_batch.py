"""Batch planning and running against the emulator over loopback (no Qt)."""

from __future__ import annotations

import asyncio
import csv
import json
import sqlite3
import time
from pathlib import Path, PurePosixPath

import pytest
from PIL import Image

from rhdesk.api.client import RunningHubClient
from rhdesk.core.catalogue import get_model
from rhdesk.core.metadata import embed_metadata, read_metadata
from rhdesk.emulator import Fault
from rhdesk.jobs import batch as B
from rhdesk.jobs.pipeline import JobRunner, PollPolicy, RunnerConfig
from rhdesk.store import db as S
from rhdesk.store.db import Store
from tests.batch.conftest import CAMERA, PROMPT, Shoot

V4 = "seedream-v4/image-to-image"


class Harness:
    def __init__(self, tmp_path: Path, emu) -> None:
        self.tmp = tmp_path
        self.emu = emu
        self.store = Store(tmp_path / "history.sqlite3")
        self.client = RunningHubClient(
            "test-key", emu.base_url, backoff_base=0.01, backoff_max=0.05
        )
        self.config = RunnerConfig(
            library=tmp_path / "library", inputs_dir=tmp_path / "inputs",
            poll=PollPolicy(first=0.05, max_interval=0.1), capacity_wait=0.05,
            capacity_wait_max=0.2,
        )  # fmt: skip
        self.runner = JobRunner(self.store, self.client, self.config)
        self.out = tmp_path / "out"

    def settings(self, **kw) -> B.BatchSettings:
        base = {"prompt": PROMPT, "endpoint": V4, "out_root": self.out, "tier": "1K"}
        return B.BatchSettings(**(base | kw))

    async def plan(self, root: Path, **kw) -> B.BatchPlan:
        collected = B.collect_sources([root], recursive=True)
        settings = self.settings(**kw)
        checked = await B.check_sources(collected.sources, settings.model)
        return B.plan_batch(settings, checked, ignored=collected.ignored)

    async def create(self, root: Path, **kw) -> str:
        return B.create_batch(self.store, await self.plan(root, **kw))

    def batch_runner(self, batch_id: str, **kw) -> B.BatchRunner:
        return B.BatchRunner(self.store, self.runner, batch_id, **kw)

    def states(self, batch_id: str) -> dict[str, str]:
        return {i.rel_path: i.state for i in self.store.batch_items(batch_id)}

    async def close(self) -> None:
        await self.runner.aclose()
        await self.client.aclose()
        self.store.close()


@pytest.fixture
async def cleanup():
    harnesses: list[Harness] = []
    yield harnesses.append
    for h in harnesses:
        await h.close()


async def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def result_of(h: Harness, rel: str, ext: str = "png") -> Path:
    p = PurePosixPath(rel)
    return h.out.resolve().joinpath(*p.parent.parts, f"{p.stem}_edit1.{ext}")


def read_report(h: Harness) -> dict[str, dict[str, str]]:
    with open(h.out / B.REPORT_NAME, encoding="utf-8-sig", newline="") as f:
        return {row["source"]: row for row in csv.DictReader(f)}


# --- sources and checks ---------------------------------------------------------------------------


async def test_junk_is_ignored_and_every_file_is_checked_before_anything_is_sent(shoot: Shoot):
    collected = B.collect_sources([shoot.root], recursive=True)
    rels = [str(s.rel) for s in collected.sources]
    assert sorted(rels) == sorted(shoot.good + shoot.bad)
    assert collected.ignored >= len(shoot.junk) - 1  # .cache/ is skipped as one folder
    assert not any(part.startswith(".") for r in rels for part in PurePosixPath(r).parts)

    flat = B.collect_sources([shoot.root], recursive=False)
    assert sorted(str(s.rel) for s in flat.sources) == ["cat.png", "readme.jpg", "rocket.jpg"]

    checked = await B.check_sources(collected.sources, get_model(V4), workers=3)
    problems = {str(c.source.rel): c.problem for c in checked if not c.usable}
    assert set(problems) == set(shoot.bad)
    assert "broken.jpg" in problems["day2/broken.jpg"] and "damaged" in problems["day2/broken.jpg"]
    assert "text" in problems["readme.jpg"]
    sizes = {str(c.source.rel): (c.width, c.height) for c in checked if c.usable}
    assert sizes["day2/coffee.jpg"] == (300, 400)


def test_dropped_files_and_several_folders_keep_apart(shoot: Shoot, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "cat.png").write_bytes((shoot.root / "cat.png").read_bytes())
    got = B.collect_sources([shoot.root / "day2", other, shoot.root / "rocket.jpg"])
    assert [str(s.rel) for s in got.sources] == ["day2/broken.jpg", "day2/coffee.jpg",
                                                  "other/cat.png", "rocket.jpg"]  # fmt: skip


def test_template_examples_and_names_that_cannot_escape(tmp_path):
    assert B.example_name(B.DEFAULT_TEMPLATE) == "IMG_0042_edit1.png"
    assert B.example_name("{model}/{stem}-{n}.{ext}", ext="jpg") == "seedream-v4.5/IMG_0042-1.jpg"
    assert B.example_name("../../{stem}.{ext}") == "IMG_0042.png"
    assert B.example_name("{stem}", stem="a{b}") == "a{b}.png"
    with pytest.raises(B.BatchSetupError, match="template"):
        B.example_name("{stem}_{nope}")


async def test_plan_sizes_follow_each_photo_and_same_stems_get_distinct_names(
    shoot: Shoot, tmp_path, emulator, cleanup
):
    (shoot.root / "cat.jpg").write_bytes((shoot.root / "rocket.jpg").read_bytes())
    h = Harness(tmp_path, emulator)
    cleanup(h)
    plan = await h.plan(shoot.root)
    by_rel = {str(i.rel): i for i in plan.items}
    wide = by_rel["day2/portraits/wide.png"]
    assert abs(wide.width / wide.height - 16 / 9) < 0.02
    tall = by_rel["day2/coffee.jpg"]
    assert abs(tall.width / tall.height - 3 / 4) < 0.02
    names = {B.predicted_name(i.out_name, i.source.stem, "seedream-v4", 1, "png")
             for i in plan.runnable if i.out_dir == h.out.resolve()}  # fmt: skip
    assert names == {"cat_edit1.png", "cat (2)_edit1.png", "rocket_edit1.png"}
    fixed = await h.plan(shoot.root, size=(1024, 1024), tier=None)
    assert {(i.width, i.height) for i in fixed.runnable} == {(1024, 1024)}


# --- running --------------------------------------------------------------------------------------


async def test_every_good_photo_gets_its_result_in_the_mirrored_folder(
    shoot: Shoot, tmp_path, emulator_factory, cleanup
):
    h = Harness(tmp_path, emulator_factory(concurrency_limit=2))
    cleanup(h)
    batch_id = await h.create(shoot.root)
    br = h.batch_runner(batch_id)
    seen: list[B.BatchProgress] = []
    br.subscribe(lambda u: seen.append(br.progress()) if u.kind == "progress" else None)
    progress = await br.run()

    assert progress.finished and progress.done == 4 and progress.failed == 0
    assert progress.unusable == 2
    assert h.emu.submit_count == len(shoot.good)  # nothing twice, junk and bad files never
    assert h.emu.max_concurrent_seen <= 2
    plan_items = {i.rel_path: i for i in h.store.batch_items(batch_id)}
    for rel in shoot.good:
        out = result_of(h, rel)
        assert out.exists(), out
        with Image.open(out) as im:
            assert im.size == (plan_items[rel].width, plan_items[rel].height)
    files = sorted(p.relative_to(h.out).as_posix() for p in h.out.rglob("*") if p.is_file())
    assert files == sorted(
        ["batch-report.csv", "cat_edit1.png", "rocket_edit1.png", "day2/coffee_edit1.png",
         "day2/portraits/wide_edit1.png"]
    )  # fmt: skip
    report = read_report(h)
    assert {r: report[r]["status"] for r in report} == {
        **{g: "done" for g in shoot.good},
        **{b: "unusable" for b in shoot.bad},
    }
    assert "damaged" in report["day2/broken.jpg"]["error"]
    assert report["rocket.jpg"]["results"] == "rocket_edit1.png"
    assert report["rocket.jpg"]["cost_coins"] == "20" and report["rocket.jpg"]["remote_task_id"]
    assert h.store.get_batch(batch_id).state == S.BATCH_FINISHED
    # The ETA waits for data, then estimates.
    assert seen[0].eta_text == "estimating…" and seen[0].per_minute is None
    assert any(p.per_minute is not None and p.eta_seconds is not None for p in seen)
    # Photos prepared ahead (the prefetch) count as pending, not as running.
    assert any(p.preparing > 0 for p in seen)


async def test_results_keep_the_source_profile_and_camera_without_gps_and_carry_the_prompt(
    shoot: Shoot, tmp_path, emulator_factory, cleanup
):
    h = Harness(tmp_path, emulator_factory(output_format="jpg"))
    cleanup(h)
    batch_id = await h.create(shoot.root)
    await h.batch_runner(batch_id).run()
    for rel in shoot.tagged:
        meta = read_metadata(result_of(h, rel, "jpg"))
        assert meta.icc_profile == shoot.icc
        assert (meta.make, meta.camera_model, meta.date_taken) == CAMERA
        assert not meta.has_gps and meta.orientation == 1
        assert meta.prompt == PROMPT and meta.model == "seedream-v4"
        assert meta.remote_id and meta.task_id
        assert "<dc:description>" in (meta.xmp or "") and PROMPT in meta.xmp
    untagged = read_metadata(result_of(h, "cat.png", "jpg"))
    assert untagged.prompt == PROMPT and untagged.camera_model is None and not untagged.has_gps


async def test_png_results_carry_the_prompt_in_text_chunks(shoot: Shoot, tmp_path):
    result = tmp_path / "r.png"
    Image.new("RGB", (40, 30), "teal").save(result)
    pixels = Image.open(result).tobytes()
    embed_metadata(result, source=shoot.root / "rocket.jpg", prompt="夜景 · night sky",
                   model="seedream-v4.5", task_id="7", remote_id="123")  # fmt: skip
    with Image.open(result) as im:
        assert im.text["Description"] == "夜景 · night sky"
        assert im.info["icc_profile"] == shoot.icc
        assert im.tobytes() == pixels  # lossless: the pixels are untouched
    meta = read_metadata(result)
    assert (meta.task_id, meta.remote_id, meta.camera_model) == ("7", "123", "X-T5")
    assert not meta.has_gps


def test_embedding_never_loses_the_result(tmp_path):
    garbage = tmp_path / "result.png"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png")
    embed_metadata(garbage, source=tmp_path / "missing.jpg", prompt="x" * 10, model="m",
                   task_id=None, remote_id=None)  # fmt: skip
    assert garbage.read_bytes() == b"\x89PNG\r\n\x1a\nnot really a png"
    assert not list(tmp_path.glob(".*.part"))
    webp = tmp_path / "r.webp"
    Image.new("RGB", (8, 8)).save(webp)
    before = webp.read_bytes()
    embed_metadata(webp, source=None, prompt="hello there", model="m", task_id="1", remote_id=None)
    assert webp.read_bytes() == before


async def test_faults_fail_one_photo_the_rest_succeed_and_retry_works(
    shoot: Shoot, tmp_path, emulator_factory, cleanup
):
    emu = emulator_factory(concurrency_limit=2)
    emu.add_fault(Fault("submit", "api_error", times=2, code="1520", message="limit"))
    emu.add_fault(Fault("query", "http_status", times=2, status=500))
    emu.add_fault(Fault("submit", "fail_task", times=1, error_code="1505", message="real person"))
    h = Harness(tmp_path, emu)
    cleanup(h)
    batch_id = await h.create(shoot.root)
    br = h.batch_runner(batch_id)
    progress = await br.run()
    assert (progress.done, progress.failed, progress.pending) == (3, 1, 0)
    assert emu.submit_count == 4
    failed = [i for i in h.store.batch_items(batch_id) if i.state == B.FAILED]
    assert len(failed) == 1 and "refused" in (failed[0].error or "")
    assert read_report(h)[failed[0].rel_path]["error_code"] == "1505"

    assert br.retry_failed() == 1
    progress = await br.run()
    assert (progress.done, progress.failed) == (4, 0)
    assert emu.submit_count == 5
    item = h.store.batch_item(failed[0].id)
    assert item.attempts == 2 and len(h.store.batch_item_tasks(item.id)) == 2
    first, second = (h.store.get(t) for t in h.store.batch_item_tasks(item.id))
    assert first.status == S.FAILED and second.status == S.SUCCEEDED
    # The retry starts from the local copies of the first try.
    assert [i.source_path for i in second.inputs] == [first.inputs[0].local_path]
    assert result_of(h, failed[0].rel_path).exists()
    assert read_report(h)[failed[0].rel_path]["status"] == "done"


async def test_balance_check_refuses_a_batch_it_cannot_cover(shoot, tmp_path, emulator_factory,
                                                             cleanup):  # fmt: skip
    h = Harness(tmp_path, emulator_factory(coins=70))
    cleanup(h)
    plan = await h.plan(shoot.root)
    model = get_model(V4)
    cost = await B.estimate_cost(h.client, model, plan.tasks, plan.images, B.preview_body(plan))
    assert (cost.tasks, cost.images, cost.coins, cost.balance_coins) == (4, 4, 80, 70)
    assert cost.preview_cny == pytest.approx(0.56) and cost.price_cny == pytest.approx(0.56)
    assert cost.enough is False and "70 coins" in (cost.shortfall() or "")
    h.emu.set_balance(1000)
    cost = await B.estimate_cost(h.client, model, 4, 4, None)
    assert cost.enough is True and cost.shortfall() is None
    assert h.emu.submit_count == 0


async def test_running_out_of_balance_mid_batch_pauses_and_continues_after_top_up(
    shoot, tmp_path, emulator_factory, cleanup
):
    h = Harness(tmp_path, emulator_factory(coins=60, concurrency_limit=1))
    cleanup(h)
    batch_id = await h.create(shoot.root)
    br = h.batch_runner(batch_id)
    progress = await br.run()
    assert progress.paused and "balance" in progress.message.lower()
    assert (progress.done, progress.failed, progress.pending) == (3, 0, 1)
    assert h.emu.submit_count == 3
    assert h.store.get_batch(batch_id).state == S.BATCH_PAUSED

    h.emu.set_balance(1000)
    br.resume()
    progress = await br.run()
    assert progress.finished and progress.done == 4 and not progress.paused
    assert h.emu.submit_count == 4


async def test_pause_holds_new_submits_and_reorder_changes_what_runs_next(
    shoot, tmp_path, emulator_factory, cleanup
):
    h = Harness(tmp_path, emulator_factory(concurrency_limit=1, run_seconds=0.8))
    cleanup(h)
    batch_id = await h.create(shoot.root)
    br = h.batch_runner(batch_id, prefetch=1)
    run = asyncio.ensure_future(br.run())
    await wait_for(lambda: h.emu.submit_count == 1)
    br.pause()
    progress = await asyncio.wait_for(run, 20)
    assert progress.paused and progress.done == 1 and h.emu.submit_count == 1
    # The prefetched photo is prepared and held, not sent; the rest wait in line.
    pending = [i for i in h.store.batch_items(batch_id) if i.state == B.PENDING]
    assert len(pending) == 2
    last = pending[-1]
    assert not br.move(pending[0].id, -1)  # already first in line
    assert br.move(last.id, -1)
    order = [i.id for i in h.store.batch_items(batch_id) if i.state == B.PENDING]
    assert order == [last.id, pending[0].id]

    br.resume()
    progress = await br.run()
    assert progress.finished and progress.done == 4 and h.emu.submit_count == 4
    started = sorted(h.store.batch_items(batch_id), key=lambda i: i.task_id or 0)
    assert [i.id for i in started][-2:] == [last.id, pending[0].id]


async def test_cancel_pending_and_one_photo_leaves_the_running_one_alone(
    shoot, tmp_path, emulator_factory, cleanup
):
    h = Harness(tmp_path, emulator_factory(concurrency_limit=1, run_seconds=1.5))
    cleanup(h)
    batch_id = await h.create(shoot.root)
    br = h.batch_runner(batch_id)
    run = asyncio.ensure_future(br.run())
    await wait_for(lambda: h.emu.submit_count == 1)
    items = h.store.batch_items(batch_id)
    waiting = [i for i in items if i.state == B.PENDING]
    assert waiting, "with prefetch 2 and 4 photos one photo waits in line"
    assert "never sent" in await br.cancel_item(waiting[0].id)
    assert await br.cancel_pending() == 2  # the two prefetched, prepared but unsent
    progress = await asyncio.wait_for(run, 20)
    assert (progress.done, progress.cancelled, progress.pending) == (1, 3, 0)
    assert h.emu.submit_count == 1
    cancelled_tasks = [h.store.get(i.task_id) for i in h.store.batch_items(batch_id)
                       if i.state == B.CANCELLED and i.task_id]  # fmt: skip
    assert len(cancelled_tasks) == 2
    assert all(t.status == S.CANCELLED and not t.remote_id for t in cancelled_tasks)


async def test_a_closed_app_mid_batch_continues_without_sending_anything_twice(
    shoot, tmp_path, emulator_factory, cleanup
):
    emu = emulator_factory(concurrency_limit=2, run_seconds=0.6)
    h = Harness(tmp_path, emu)
    cleanup(h)
    batch_id = await h.create(shoot.root)
    br = h.batch_runner(batch_id)
    run = asyncio.ensure_future(br.run())
    await wait_for(lambda: emu.submit_count >= 2)
    run.cancel()  # the window closes: the loop stops driving, the runner too
    with pytest.raises(asyncio.CancelledError):
        await run
    await h.runner.aclose()
    assert h.store.get_batch(batch_id).state == S.BATCH_PAUSED

    h.runner = JobRunner(h.store, h.client, h.config)  # "restart"
    progress = B.batch_progress(h.store, batch_id)
    assert progress.total == 4 and progress.done + progress.running + progress.pending == 4
    progress = await h.batch_runner(batch_id).run()
    assert progress.finished and progress.done == 4
    assert emu.submit_count == 4
    for rel in shoot.good:
        assert result_of(h, rel).exists()


async def test_existing_results_keep_both_overwrite_or_skip(shoot, tmp_path, emulator, cleanup):
    h = Harness(tmp_path, emulator)
    cleanup(h)
    await h.batch_runner(await h.create(shoot.root)).run()
    assert emulator.submit_count == 4
    rocket = result_of(h, "rocket.jpg")
    stamp = rocket.stat().st_mtime_ns

    plan = await h.plan(shoot.root, conflict=B.SKIP)
    assert len(plan.conflicts) == 4 and plan.tasks == 0

    plan = await h.plan(shoot.root, conflict=B.KEEP_BOTH)
    await h.batch_runner(B.create_batch(h.store, plan)).run()
    assert rocket.with_name("rocket_edit1 (2).png").exists()
    assert rocket.stat().st_mtime_ns == stamp

    plan = await h.plan(shoot.root, conflict=B.OVERWRITE)
    await h.batch_runner(B.create_batch(h.store, plan)).run()
    assert not rocket.with_name("rocket_edit1 (3).png").exists()
    assert rocket.stat().st_mtime_ns != stamp
    assert emulator.submit_count == 12


def test_schema_v2_database_is_migrated_to_batches(tmp_path):
    db = tmp_path / "old.sqlite3"
    con = sqlite3.connect(db)
    for version in (1, 2):
        for stmt in S._split_sql(S._MIGRATIONS[version]):
            con.execute(stmt)
    con.execute(
        """INSERT INTO tasks (uid, created_at, updated_at, endpoint, prompt, width, height,
           spec_json, status) VALUES ('u', 1, 1, ?, 'make it blue', 1024, 1024, ?, 'succeeded')""",
        (V4, json.dumps({"endpoint": V4, "prompt": "make it blue", "width": 1024, "height": 1024})),
    )
    con.execute("PRAGMA user_version=2")
    con.commit()
    con.close()
    store = Store(db)
    assert store.schema_version == S.SCHEMA_VERSION == 3
    rec = store.get(1)
    assert rec.out_dir is None and not rec.out_overwrite and rec.prompt == "make it blue"
    assert store.list_batches() == []
    store.close()
