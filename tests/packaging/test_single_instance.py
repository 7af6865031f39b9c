"""A second launch hands its files to the running window; sockets never collide or go stale."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from packaging_helpers import rhdesk_command, subprocess_env
from PySide6.QtCore import QEvent
from PySide6.QtGui import QFileOpenEvent
from PySide6.QtNetwork import QLocalSocket
from PySide6.QtWidgets import QApplication

from rhdesk.single_instance import (
    LOCK_NAME,
    InstanceUnreachable,
    claim,
    decode_message,
    encode_message,
    send_to_running,
    server_name,
)


def test_server_name_depends_on_the_data_folder(tmp_path: Path) -> None:
    a, b = server_name(tmp_path / "a"), server_name(tmp_path / "b")
    assert a != b
    assert a == server_name(tmp_path / "a" / ".." / "a")  # the same folder, spelled differently
    assert a.startswith("rhdesk-") and len(a) < 40  # Unix socket paths are short


def test_message_carries_absolute_paths(tmp_path: Path) -> None:
    line = encode_message(["x.jpg", tmp_path / "y.png"], cwd=tmp_path / "here")
    assert line.endswith(b"\n")
    assert decode_message(line.rstrip(b"\n")) == [tmp_path / "here" / "x.jpg", tmp_path / "y.png"]


def test_nobody_listening_means_no_hand_over(qapp, tmp_path: Path) -> None:
    t0 = time.monotonic()
    assert send_to_running(server_name(tmp_path), ["a.jpg"]) is False
    assert time.monotonic() - t0 < 2


def test_second_launch_hands_its_files_to_the_first_window(
    qtbot, app_window, tmp_path: Path, images: list[Path]
) -> None:
    data = tmp_path / "data"
    first = app_window("--data-dir", str(data), str(images[0]))
    qtbot.waitUntil(lambda: not first.slots.is_loading(), timeout=10_000)
    assert first.slots.paths() == [images[0]]

    # The second launch is a real `rhdesk FILES --data-dir SAME` process; relative paths are
    # resolved against its own working folder.
    proc = subprocess.Popen(
        rhdesk_command(images[1].name, str(images[2]), "--data-dir", str(data)),
        cwd=images[1].parent,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    t0 = time.monotonic()
    try:
        qtbot.waitUntil(lambda: proc.poll() is not None, timeout=30_000)
    finally:
        if proc.poll() is None:
            proc.kill()
    took = time.monotonic() - t0
    out, err = proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert took < 15, f"the second launch took {took:.1f} s to hand over"
    qtbot.waitUntil(lambda: len(first.slots.paths()) == 3, timeout=10_000)
    assert first.slots.paths() == images
    assert "Added 2 image(s)" in first.statusBar().currentMessage()
    assert QApplication.topLevelWidgets().count(first) == 1


def test_a_second_launch_without_files_just_exits(qtbot, app_window, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = app_window("--data-dir", str(data))
    # The first window answers from this process's event loop: waitUntil keeps it turning.
    popen = subprocess.Popen(rhdesk_command("--data-dir", str(data)), env=subprocess_env())
    qtbot.waitUntil(lambda: popen.poll() is not None, timeout=30_000)
    assert popen.returncode == 0
    assert first.slots.paths() == []


def test_other_data_folder_starts_its_own_instance(qapp, tmp_path: Path) -> None:
    server = claim(tmp_path / "one", [])
    assert server is not None and server.is_listening()
    other = claim(tmp_path / "two", [])
    assert other is not None and other.is_listening()
    server.close()
    other.close()


def crash_an_instance(tmp_path: Path) -> None:
    """Start an instance in another process and SIGKILL it: lock and socket stay behind."""
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from PySide6.QtCore import QCoreApplication\n"
        "from rhdesk.single_instance import claim\n"
        "app = QCoreApplication([])\n"
        f"s = claim(Path({str(tmp_path / 'data')!r}), []); assert s.is_listening()\n"
        "print('listening', flush=True); time.sleep(60)\n"
    )
    crashed = subprocess.Popen(
        [sys.executable, "-c", code], env=subprocess_env(), stdout=subprocess.PIPE, text=True
    )
    assert crashed.stdout is not None and crashed.stdout.readline().strip() == "listening"
    os.kill(crashed.pid, signal.SIGKILL)
    crashed.wait()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and socket files are Unix things")
def test_stale_lock_and_socket_after_a_crash_are_taken_over(qapp, tmp_path: Path) -> None:
    crash_an_instance(tmp_path)
    name = server_name(tmp_path / "data")
    assert (tmp_path / "data" / LOCK_NAME).exists(), "the crash should leave its lock behind"
    assert (Path(tempfile.gettempdir()) / name).exists(), "and its socket file"

    t0 = time.monotonic()
    server = claim(tmp_path / "data", [], wait_seconds=5)
    assert time.monotonic() - t0 < 3, "a dead owner's lock must not make us wait"
    assert server is not None and server.is_listening()
    knock = QLocalSocket()
    knock.connectToServer(name)
    assert knock.waitForConnected(1000)  # the new server, not a dead file
    knock.abort()
    server.close()


def test_an_owner_that_never_answers_is_reported(qapp, tmp_path: Path) -> None:
    from PySide6.QtCore import QLockFile

    (tmp_path / "data").mkdir()
    hung = QLockFile(str(tmp_path / "data" / LOCK_NAME))  # alive (this process), not listening
    assert hung.tryLock(0)
    t0 = time.monotonic()
    with pytest.raises(InstanceUnreachable):
        claim(tmp_path / "data", ["x.jpg"], wait_seconds=0.5)
    assert time.monotonic() - t0 < 5
    hung.unlock()


def test_launches_at_the_same_moment_end_in_one_window(qapp, tmp_path: Path) -> None:
    """Explorer starts one process per selected file: exactly one of them may become the
    instance, and every other one hands over."""
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from PySide6.QtCore import QCoreApplication, QTimer\n"
        "from rhdesk.single_instance import claim\n"
        "app = QCoreApplication([])\n"
        f"s = claim(Path({str(tmp_path / 'data')!r}), [sys.argv[1]])\n"
        "if s is None: print('handed-over', flush=True); sys.exit(0)\n"
        "got = []\n"
        "s.files_received.connect(lambda f: got.extend(f))\n"
        "print('instance', flush=True)\n"
        "QTimer.singleShot(6000, app.quit); app.exec()\n"
        "print('received', len(got), flush=True)\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, f"img{i}.jpg"],
            env=subprocess_env(),
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for i in range(4)
    ]
    outputs = [p.communicate(timeout=60)[0].split() for p in procs]
    roles = sorted(o[0] for o in outputs)
    assert roles == ["handed-over"] * 3 + ["instance"], outputs
    instance = next(o for o in outputs if o[0] == "instance")
    assert instance[-2:] == ["received", "3"], instance


def test_macos_open_with_event_lands_in_a_slot(
    qtbot, app_window, tmp_path: Path, images: list[Path]
) -> None:
    window = app_window("--data-dir", str(tmp_path / "data"))
    event = QFileOpenEvent(str(images[0]))
    assert event.type() == QEvent.Type.FileOpen
    QApplication.sendEvent(QApplication.instance(), event)
    qtbot.waitUntil(lambda: window.slots.paths() == [images[0]], timeout=5_000)
