"""Closing while tasks run asks first; the tasks resume on the next start; the window comes
back where it was."""

from __future__ import annotations

from pathlib import Path

from packaging_helpers import shut_down
from PySide6.QtCore import QRect
from PySide6.QtWidgets import QMessageBox

from rhdesk.store import db as S


def start_task(qtbot, window, image: Path) -> int:
    window.slots.add_files([image])
    qtbot.waitUntil(lambda: not window.slots.is_loading(), timeout=10_000)
    window.prompt.set_text("make the sky a warm sunset")
    qtbot.waitUntil(window.run_button.isEnabled, timeout=5_000)
    started: list[int] = []
    window.controller.task_started.connect(started.append)
    window.run_button.click()
    qtbot.waitUntil(lambda: bool(started), timeout=10_000)
    return started[0]


def test_closing_with_a_running_task_asks_and_the_task_resumes_next_start(
    qtbot, app_window, emulator_factory, monkeypatch, tmp_path: Path, images: list[Path]
) -> None:
    emu = emulator_factory(queue_seconds=0.2, run_seconds=3.0)
    monkeypatch.setenv("RHDESK_API_KEY", "test-key")
    argv = ["--base-url", emu.start(), "--data-dir", str(tmp_path / "data")]
    window = app_window(*argv)
    task_id = start_task(qtbot, window, images[0])
    store = window.controller.store
    qtbot.waitUntil(lambda: store.get(task_id).remote_id is not None, timeout=10_000)
    assert store.get(task_id).status in S.ACTIVE_STATES

    window.close()
    guard = window._close_guard
    assert guard.box is not None and guard.box.isVisible()
    assert guard.box.objectName() == "quitWhileRunningBox"
    assert "1 task is still running" in guard.box.text()
    assert "picks them up next time" in guard.box.text()
    assert guard.box.isVisible() and window.isVisible()  # open(): the loop keeps running
    guard.box.button(QMessageBox.StandardButton.No).click()
    qtbot.waitUntil(lambda: not guard.box.isVisible(), timeout=2_000)
    assert window.isVisible(), "answering No keeps the window"

    window.close()
    assert guard.box.isVisible()
    guard.box.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=2_000)
    shut_down(qtbot, window)  # what app.main does after the last window closed

    # Next start, same data folder: the pipeline picks the task up and saves its result.
    again = app_window(*argv)
    store2 = again.controller.store
    qtbot.waitUntil(lambda: store2.get(task_id).status == S.SUCCEEDED, timeout=30_000)
    results = store2.get(task_id).result_paths
    assert results and all(p.is_file() for p in results)
    assert len(store2.list()) == 1, "resumed, not submitted again"


def test_closing_with_nothing_running_does_not_ask(qtbot, app_window, tmp_path: Path) -> None:
    window = app_window("--data-dir", str(tmp_path / "data"))
    window.close()
    assert not window.isVisible()
    assert window._close_guard.box is None


def test_window_comes_back_where_it_was(qtbot, app_window, tmp_path: Path) -> None:
    argv = ["--data-dir", str(tmp_path / "data")]
    first = app_window(*argv)
    first.setGeometry(QRect(120, 90, 1100, 700))
    qtbot.waitUntil(lambda: first.geometry().width() == 1100, timeout=2_000)
    shut_down(qtbot, first)
    second = app_window(*argv)
    got = second.geometry()
    # Offscreen, the frame and status bar may shift the restored size by a few pixels; an
    # unrestored window would be the 1440×860 default.
    assert abs(got.width() - 1100) <= 16 and abs(got.height() - 700) <= 16, got
