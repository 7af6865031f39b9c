"""`rhdesk batch` in real subprocesses against the emulator over loopback."""

from __future__ import annotations

import csv
import json
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from rhdesk.emulator import Fault
from tests.batch.conftest import PROMPT, Shoot, make_shoot
from tests.cli.test_cli import one_line_error, rhdesk

FAST = ("--model", "v4", "--size", "match@1K")


def batch(shoot_root: Path, out: Path, *extra: str, data_dir: Path, emu, **kw):
    return rhdesk("batch", str(shoot_root), "--recursive", "--prompt", PROMPT, *FAST,
                  "--out", str(out), *extra, data_dir=data_dir, base_url=emu.base_url, **kw)  # fmt: skip


def outputs(out: Path) -> dict[str, Path]:
    return {
        p.relative_to(out).as_posix(): p
        for p in out.rglob("*")
        if p.is_file() and p.name != "batch-report.csv"
    }


def test_batch_json_end_to_end(tmp_path, shoot: Shoot, emulator_factory):
    emu = emulator_factory(concurrency_limit=2)
    out = tmp_path / "out"
    proc = batch(shoot.root, out, "--yes", "--json", data_dir=tmp_path / "d", emu=emu)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["counts"]["done"] == 4 and data["counts"]["unusable"] == 2
    done = {i["source"]: i["results"] for i in data["items"] if i["status"] == "done"}
    assert done["day2/coffee.jpg"] == [str((out / "day2" / "coffee_edit1.png").resolve())]
    assert "cannot use readme.jpg" in proc.stderr and "Report:" in proc.stderr
    assert emu.submit_count == 4 and emu.max_concurrent_seen <= 2
    assert Path(data["report"]).exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--prompt", "blue"], "at least 5"),
        (["--prompt", "make it blue", "--size", "7:5@9K"], "unknown size"),
        (["--prompt", "make it blue", "--width", "2048"], "both --width and --height"),
        (["--prompt", "make it blue", "--overwrite", "--skip-existing"], "not both"),
        (["--prompt", "make it blue", "--template", "{stem}_{oops}"], "template"),
        (["--prompt", "make it blue", "--concurrency", "0"], "at least 1"),
        (["--prompt", "make it blue"], "--yes"),  # no terminal to ask on
        (["--yes"], "--prompt"),
    ],
)
def test_bad_usage_is_one_line_exit_2_and_nothing_is_sent(
    tmp_path, shoot, emulator, args, expected
):
    proc = rhdesk("batch", str(shoot.root), *args, data_dir=tmp_path, base_url=emulator.base_url)
    assert proc.returncode == 2, proc.stderr
    assert expected in one_line_error(proc)
    assert emulator.submit_count == 0 and emulator.tasks() == []


def test_unusable_inputs_exit_2(tmp_path, shoot, emulator):
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "x.jpg").write_text("not a photo")
    proc = rhdesk("batch", str(only_bad), "--prompt", "make it blue", "--yes",
                  data_dir=tmp_path, base_url=emulator.base_url)  # fmt: skip
    assert proc.returncode == 2 and "none of the 1" in one_line_error(proc)
    proc = rhdesk("batch", str(shoot.root), "--prompt", "make it blue", "--yes",
                  "--reference", str(shoot.root / "readme.jpg"),
                  data_dir=tmp_path, base_url=emulator.base_url)  # fmt: skip
    assert proc.returncode == 2 and "reference" in one_line_error(proc)
    proc = rhdesk("batch", str(tmp_path / "nowhere"), "--prompt", "make it blue", "--yes",
                  data_dir=tmp_path, base_url=emulator.base_url)  # fmt: skip
    assert proc.returncode == 2 and "nowhere" in one_line_error(proc)
    assert emulator.submit_count == 0


def test_balance_too_low_refuses_to_start(tmp_path, shoot, emulator_factory):
    emu = emulator_factory(coins=50)
    proc = batch(shoot.root, tmp_path / "out", "--yes", data_dir=tmp_path, emu=emu)
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert "balance (50 coins)" in line and "80 coins" in line
    assert emu.submit_count == 0


def test_failed_photo_exits_1_then_retry_failed_finishes(tmp_path, shoot, emulator):
    emulator.add_fault(Fault("submit", "fail_task", times=1, error_code="1505", message="person"))
    out = tmp_path / "out"
    proc = batch(shoot.root, out, "--yes", data_dir=tmp_path, emu=emulator)
    assert proc.returncode == 1, proc.stderr
    assert len(proc.stdout.splitlines()) == 3
    with open(out / "batch-report.csv", encoding="utf-8-sig") as f:
        rows = {r["source"]: r for r in csv.DictReader(f)}
    (failed,) = [r for r in rows.values() if r["status"] == "failed"]
    assert failed["error_code"] == "1505" and "refused" in failed["error"]
    batch_id = proc.stderr.split("--resume ")[1].split()[0].rstrip(")")
    again = rhdesk("batch", "--resume", batch_id, "--retry-failed", "--yes",
                   data_dir=tmp_path, base_url=emulator.base_url)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert len(again.stdout.splitlines()) == 4
    assert emulator.submit_count == 5


def _remote_ids(db: Path) -> tuple[int, int]:
    """(tasks with a remote id, tasks whose submit may be on the wire)."""
    try:
        with sqlite3.connect(db) as con:
            sent = con.execute("SELECT COUNT(*) FROM tasks WHERE remote_id IS NOT NULL").fetchone()
            sending = con.execute(
                "SELECT COUNT(*) FROM tasks WHERE submit_state='sending' AND remote_id IS NULL"
            ).fetchone()
            return sent[0], sending[0]
    except sqlite3.OperationalError:  # still creating the schema
        return 0, 0


def test_killed_batch_resumes_to_the_same_folder_as_an_uninterrupted_run(
    tmp_path, emulator_factory
):
    if not (Path(__file__).parents[3] / "shared" / "testdata" / "rocket.jpg").exists():
        pytest.skip("shared test photos missing")
    shoot = make_shoot(tmp_path / "shoot", count=8)
    # Reference run, never interrupted.
    ref_emu = emulator_factory(concurrency_limit=2, queue_seconds=0.2, run_seconds=0.6)
    ref_out = tmp_path / "ref-out"
    ref = batch(shoot.root, ref_out, "--yes", data_dir=tmp_path / "ref", emu=ref_emu)
    assert ref.returncode == 0, ref.stderr

    emu = emulator_factory(concurrency_limit=2, queue_seconds=0.2, run_seconds=0.6)
    out, data = tmp_path / "out", tmp_path / "data"
    proc = batch(shoot.root, out, "--yes", data_dir=data, emu=emu, wait=False)
    db = data / "history.sqlite3"
    deadline = time.monotonic() + 60
    # Kill once some tasks are on RunningHub and no submit is in flight: with a limit of 2 the
    # next submit waits for a running task, so this moment lasts about a second.
    while time.monotonic() < deadline:
        sent, sending = _remote_ids(db)
        if sent >= 3 and sending == 0:
            break
        time.sleep(0.02)
    else:
        raise AssertionError("the batch never got going")
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    killed_at = emu.submit_count
    assert 3 <= killed_at < 8
    assert len(outputs(out)) < 8

    batch_id = sqlite3.connect(db).execute("SELECT id FROM batches").fetchone()[0]
    resumed = rhdesk("batch", "--resume", batch_id[:6], "--yes",
                     data_dir=data, base_url=emu.base_url)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert emu.submit_count == 8  # nothing sent twice

    got, want = outputs(out), outputs(ref_out)
    assert sorted(got) == sorted(want)
    for name, path in want.items():
        with Image.open(path) as a, Image.open(got[name]) as b:
            assert a.size == b.size
            # The emulator is deterministic: the same photo, prompt and size give the same
            # picture. The files differ only in the task ids written into their metadata.
            assert ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox() is None
    with open(out / "batch-report.csv", encoding="utf-8-sig") as f:
        assert {r["status"] for r in csv.DictReader(f)} == {"done"}
    again = rhdesk("batch", "--resume", batch_id, "--yes", data_dir=data, base_url=emu.base_url)
    assert again.returncode == 0 and emu.submit_count == 8
