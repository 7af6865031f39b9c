"""The `rhdesk` command in real subprocesses against the emulator over loopback."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from rhdesk.emulator import Fault

KEY = "test-key"


def rhdesk(
    *args, data_dir: Path, base_url: str | None = None, key: str | None = KEY, wait=True, timeout=90
):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RHDESK_",))}
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"  # never the real keyring
    if key:
        env["RHDESK_API_KEY"] = key
    cmd = [sys.executable, "-m", "rhdesk", "--data-dir", str(data_dir)]
    if base_url:
        cmd += ["--base-url", base_url]
    cmd += list(args)
    if not wait:
        return subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def one_line_error(proc) -> str:
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("rhdesk:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_run_edits_a_photo_and_prints_the_result_path(tmp_path, emulator, photos):
    proc = rhdesk("run", str(photos["rocket"]), "--prompt", "make it a night launch", "--model", "v4",
                  data_dir=tmp_path, base_url=emulator.base_url)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.splitlines()
    out = Path(line)
    assert out.exists() and out.is_relative_to(tmp_path / "results")
    with Image.open(out) as im, Image.open(photos["rocket"]) as src:
        assert abs(im.width / im.height - src.width / src.height) < 0.02  # default: match the photo
    assert "Uploading" in proc.stderr and "Downloading" in proc.stderr
    assert emulator.submit_count == 1


def test_json_output_and_out_folder(tmp_path, emulator, photos):
    out_dir = tmp_path / "out"
    proc = rhdesk("run", str(photos["chelsea"]), str(photos["coffee"]), "--prompt", "put the cat in the cup",
                  "--size", "16:9@2K", "--out", str(out_dir), "--json",
                  data_dir=tmp_path / "d", base_url=emulator.base_url)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["status"] == "succeeded" and data["remote_id"]
    assert (data["width"], data["height"]) == (2728, 1534)
    assert [Path(p).parent for p in data["results"]] == [out_dir]
    assert all(Path(p).exists() for p in data["results"])


def test_text_to_image_without_images(tmp_path, emulator):
    proc = rhdesk("run", "--prompt", "a lighthouse in a storm, oil painting", "--max-images", "2",
                  data_dir=tmp_path, base_url=emulator.base_url)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 2
    assert "text-to-image" in emulator.tasks()[0]["endpoint"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--prompt", "blue"], "at least 5"),
        (["--prompt", "make it blue", "--width", "1000", "--height", "1000"], "at least 3,686,400"),
        (["--prompt", "make it blue", "--width", "2049", "--height", "2048"], "multiple of 8"),
        (["--prompt", "make it blue", "--size", "7:5@9K"], "unknown size"),
        (["--prompt", "make it blue", "--model", "dall-e"], "unknown model"),
        (["--prompt", "make it blue", "--width", "2048"], "both --width and --height"),
    ],
)
def test_bad_input_is_one_clear_line_and_nothing_is_sent(
    tmp_path, emulator, photos, args, expected
):
    proc = rhdesk(
        "run", str(photos["chelsea"]), *args, data_dir=tmp_path, base_url=emulator.base_url
    )
    assert proc.returncode == 2
    assert expected in one_line_error(proc)
    assert emulator.submit_count == 0 and emulator.tasks() == []


def test_eleven_images_and_a_corrupt_one(tmp_path, emulator, photos):
    proc = rhdesk("run", *[str(photos["chelsea"])] * 11, "--prompt", "make a collage",
                  data_dir=tmp_path, base_url=emulator.base_url)  # fmt: skip
    assert proc.returncode == 2 and "11 images" in one_line_error(proc)
    bad = tmp_path / "broken photo.jpg"
    bad.write_bytes(Path(photos["rocket"]).read_bytes()[:3000])
    proc = rhdesk(
        "run", str(bad), "--prompt", "make it snow", data_dir=tmp_path, base_url=emulator.base_url
    )
    assert proc.returncode == 2 and "broken photo.jpg" in one_line_error(proc)
    missing = rhdesk("run", str(tmp_path / "nope.png"), "--prompt", "make it snow",
                     data_dir=tmp_path, base_url=emulator.base_url)  # fmt: skip
    assert missing.returncode == 2 and "nope.png" in one_line_error(missing)
    assert emulator.submit_count == 0


def test_missing_key_and_wrong_key(tmp_path, emulator, photos):
    proc = rhdesk("run", str(photos["chelsea"]), "--prompt", "make it snow", key=None,
                  data_dir=tmp_path, base_url=emulator.base_url)  # fmt: skip
    assert proc.returncode == 2 and "--demo" in one_line_error(proc)
    proc = rhdesk("run", str(photos["chelsea"]), "--prompt", "make it snow", key="wrong-key-000",
                  data_dir=tmp_path, base_url=emulator.base_url)  # fmt: skip
    assert proc.returncode == 1
    assert "key" in one_line_error(proc).lower() and "wrong-key-000" not in proc.stderr


def test_plain_http_to_a_remote_host_is_refused(tmp_path, photos):
    proc = rhdesk("run", str(photos["chelsea"]), "--prompt", "make it snow",
                  data_dir=tmp_path, base_url="http://example.com")  # fmt: skip
    assert proc.returncode == 2 and "http://" in one_line_error(proc)


def test_failed_task_exits_1(tmp_path, emulator, photos):
    emulator.add_fault(Fault("submit", "fail_task", error_code="1505", message="real person"))
    proc = rhdesk("run", str(photos["astronaut"]), "--prompt", "make her smile",
                  data_dir=tmp_path, base_url=emulator.base_url)  # fmt: skip
    assert proc.returncode == 1 and proc.stdout == ""
    assert "refused" in one_line_error(proc)


def test_history_lists_and_filters(tmp_path, emulator, photos):
    for prompt in ("make the sky purple", "add a rainbow please"):
        assert rhdesk("run", str(photos["chelsea"]), "--prompt", prompt,
                      data_dir=tmp_path, base_url=emulator.base_url).returncode == 0  # fmt: skip
    proc = rhdesk("history", "--json", data_dir=tmp_path, key=None)
    assert proc.returncode == 0, proc.stderr
    tasks = json.loads(proc.stdout)
    assert [t["prompt"] for t in tasks] == ["add a rainbow please", "make the sky purple"]
    found = json.loads(
        rhdesk("history", "--json", "--search", "rainbow", data_dir=tmp_path, key=None).stdout
    )
    assert [t["prompt"] for t in found] == ["add a rainbow please"]
    text = rhdesk("history", data_dir=tmp_path, key=None).stdout
    assert "succeeded" in text and "rainbow" in text


def test_killed_while_polling_then_resume_finishes_without_resubmitting(
    tmp_path, emulator_factory, photos
):
    emu = emulator_factory(queue_seconds=0.5, run_seconds=3.0)
    data = tmp_path / "data"
    proc = rhdesk("run", str(photos["coffee"]), "--prompt", "turn the coffee into tea",
                  data_dir=data, base_url=emu.base_url, wait=False)  # fmt: skip
    db = data / "history.sqlite3"
    deadline = time.monotonic() + 30
    remote_id = None
    while time.monotonic() < deadline and not remote_id:
        if db.exists():
            try:
                with sqlite3.connect(db) as con:
                    row = con.execute("SELECT remote_id FROM tasks").fetchone()
                    remote_id = row[0] if row else None
            except sqlite3.OperationalError:  # the process is still creating the schema
                remote_id = None
        if not remote_id:
            time.sleep(0.05)
    assert remote_id, "the task never reached the server"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert not list((data / "results").glob("*.png"))
    resumed = rhdesk("resume", data_dir=data, base_url=emu.base_url)
    assert resumed.returncode == 0, resumed.stderr
    (line,) = resumed.stdout.splitlines()
    assert Path(line).exists()
    assert emu.submit_count == 1
    again = rhdesk("resume", data_dir=data, base_url=emu.base_url)
    assert again.returncode == 0 and "Nothing to resume" in again.stderr


def test_demo_mode_needs_no_key(tmp_path, photos):
    proc = rhdesk("--demo", "run", str(photos["chelsea"]), "--prompt", "give the cat sunglasses",
                  data_dir=tmp_path, key=None)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()).exists()


def test_version_and_usage(tmp_path):
    proc = rhdesk("--version", data_dir=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith("rhdesk ")
    proc = rhdesk("run", data_dir=tmp_path)
    assert proc.returncode == 2 and "--prompt" in proc.stderr and "Traceback" not in proc.stderr


def test_lost_submit_reply_is_reported_unknown_and_resume_never_resends(tmp_path, emulator, photos):
    emulator.add_fault(Fault("submit", "drop_after", times=1))
    proc = rhdesk("run", str(photos["chelsea"]), "--prompt", "make the cat purple",
                  data_dir=tmp_path, base_url=emulator.base_url)  # fmt: skip
    assert proc.returncode == 1 and "not known whether" in one_line_error(proc)
    resumed = rhdesk("resume", data_dir=tmp_path, base_url=emulator.base_url)
    assert resumed.returncode == 1
    line = one_line_error(resumed)
    assert "outcome unknown" in line and "Call record: http://127.0.0.1" in line
    assert emulator.submit_count == 1  # the one the lost reply created; never a second
