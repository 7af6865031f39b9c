"""Crash safety: a process killed mid-write or mid-download corrupts and loses nothing."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from PIL import Image

from rhdesk.emulator import Fault
from rhdesk.store import db as S
from rhdesk.store.db import Store

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from rhdesk.core.task import TaskSpec
    from rhdesk.store import db as S
    from rhdesk.store.db import Store
    store = Store(Path(sys.argv[1]))
    i = 0
    while True:
        i += 1
        tid = store.create_task(TaskSpec("seedream-v4.5/text-to-image", f"prompt number {i}", 2048, 2048), "u")
        store.set_status(tid, S.SUBMITTING, submit_state=S.SUBMIT_SENDING)
        store.set_status(tid, S.QUEUED, remote_id=str(i), submit_state=S.SUBMIT_ACCEPTED)
        store.set_results(tid, [(f"https://cdn/{i}.png", "png")])
        store.set_status(tid, S.SUCCEEDED)
    """
)


def test_killed_in_the_middle_of_writes_leaves_a_consistent_database(tmp_path):
    db = tmp_path / "h.sqlite3"
    for round_ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)])
        deadline = time.monotonic() + 30
        target = 50 * (round_ + 1)
        count = 0
        while time.monotonic() < deadline and count < target:
            try:
                with sqlite3.connect(db, timeout=5) as con:
                    count = con.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]
            except sqlite3.OperationalError:
                count = 0
            if count < target:
                time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert count >= target, "the writer never got going"
        store = Store(db)
        assert store.integrity_ok()
        for rec in store.list():
            # every task is in a state its own events explain: no half-applied change
            events = [e[1] for e in store.events(rec.id)]
            assert events[0] == S.PENDING and events[-1] == rec.status
            if rec.status == S.SUCCEEDED:
                assert rec.remote_id and len(rec.results) == 1
            if rec.remote_id:
                assert rec.submit_state == S.SUBMIT_ACCEPTED
        store.close()


def test_killed_during_a_download_resumes_without_mistaking_the_partial_file(
    tmp_path, emulator_factory, photos
):
    emu = emulator_factory(queue_seconds=0.1, run_seconds=0.2)
    emu.add_fault(Fault("download", "slow_body", bytes_per_second=64 * 1024))
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RHDESK_")}
    env.update(RHDESK_API_KEY="test-key", PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    cmd = [sys.executable, "-m", "rhdesk", "--data-dir", str(data), "--base-url", emu.base_url,
           "run", str(photos["astronaut"]), "--prompt", "make it a watercolour", "--model", "v4",
           "--size", "1:1@1K"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    results = data / "results"
    deadline = time.monotonic() + 60
    part = None
    while time.monotonic() < deadline and part is None:
        found = (
            [p for p in results.glob("*.part") if p.stat().st_size > 0] if results.exists() else []
        )
        part = found[0] if found else None
        if part is None:
            time.sleep(0.02)
    assert part is not None, "the download never started"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert not [p for p in results.iterdir() if p.suffix == ".png"]  # nothing posing as a result
    store = Store(data / "history.sqlite3")
    (rec,) = store.list()
    assert rec.status == S.DOWNLOADING and rec.result_paths == []
    store.close()

    emu.clear_faults()
    resumed = subprocess.run(
        [*cmd[:7], "resume"], env=env, capture_output=True, text=True, timeout=60
    )
    assert resumed.returncode == 0, resumed.stderr
    out = Path(resumed.stdout.strip())
    assert out.exists() and not list(results.glob("*.part"))
    with Image.open(out) as im:
        im.load()
        assert im.size == (1024, 1024)
    assert emu.submit_count == 1
