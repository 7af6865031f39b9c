"""A whole session on the real window against an emulator: set the key in Settings, run tasks
with faults, crash, copy diagnostics; then the key is searched for everywhere the app wrote or
logged. Also the status bar's account line and the low-balance question before a run."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton

from rhdesk.emulator import Fault

KEY = "rh-SESSION-KEY-7c41d9e2b05f"
TIMEOUT = 20_000


def key_dialog_save(qtbot, window, key: str) -> None:
    from rhdesk.ui.settings_dialog import open_settings

    d = open_settings(window)
    qtbot.waitExposed(d)
    d.site.setCurrentIndex(d.site.findData("cn"))
    d.key_edit.setText(key)
    d.save_button.click()


def start_task(qtbot, window, photo: Path, prompt: str) -> None:
    window.slots.set_paths([photo])
    window.prompt.set_text(prompt)
    qtbot.waitUntil(lambda: not window.blocking_reasons(), timeout=TIMEOUT)
    before = len(window.controller.tasks.rows())
    window.run()
    qtbot.waitUntil(lambda: len(window.controller.tasks.rows()) > before, timeout=TIMEOUT)


def all_final(window) -> bool:
    rows = window.controller.tasks.rows()
    return bool(rows) and not any(r.active for r in rows)


@pytest.fixture
def session(make_window, emulator_factory, tmp_path):
    emu = emulator_factory(api_keys={KEY}, queue_seconds=0.1, run_seconds=0.2)
    window = make_window("--data-dir", str(tmp_path / "data"))
    window.controller.sites = {"cn": emu.base_url, "ai": emu.base_url}
    return window, emu


def test_a_full_session_leaves_the_key_nowhere(qtbot, session, photos, tmp_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    window, emu = session
    assert not window.controller.ready
    key_dialog_save(qtbot, window, KEY)
    qtbot.waitUntil(lambda: window.controller.ready, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: "coins" in window.balance_label.text(), timeout=TIMEOUT)

    # Faults: a server that quotes the key back, flaky polls, a dropped download, a refusal.
    emu.add_fault(Fault("query", "http_status", times=1, status=502))
    emu.add_fault(Fault("download", "drop", times=1))
    start_task(qtbot, window, photos["coffee"], "Make the coffee cup bright red please")
    qtbot.waitUntil(lambda: all_final(window), timeout=TIMEOUT)
    emu.add_fault(Fault("submit", "fail_task", times=1, error_code="1505",
                        message=f"content refused for {KEY}"))  # fmt: skip
    start_task(qtbot, window, photos["rocket"], "Paint the rocket in bright orange colours")
    qtbot.waitUntil(lambda: all_final(window), timeout=TIMEOUT)
    emu.add_fault(Fault("upload", "api_error", times=2, code="401",
                        message=f"ApiKey verification failed: {KEY} 不存在"))  # fmt: skip
    start_task(qtbot, window, photos["chelsea"], "Give the cat a small red party hat")
    qtbot.waitUntil(lambda: all_final(window), timeout=TIMEOUT)
    statuses = sorted(r.status for r in window.controller.tasks.rows())
    assert "succeeded" in statuses and "failed" in statuses, statuses

    # A crash with the key in its message reaches the dialog, redacted.
    from rhdesk.ui.support import install_error_handlers

    handler = install_error_handlers()
    seen = handler.handled

    def crash() -> None:
        raise RuntimeError(f"unexpected with {KEY}")

    QTimer.singleShot(0, crash)
    qtbot.waitUntil(lambda: handler.handled > seen, timeout=TIMEOUT)
    boxes = [w for w in QApplication.topLevelWidgets() if w.objectName() == "crashBox"]
    assert boxes and all(KEY not in b.informativeText() + b.detailedText() for b in boxes)

    window.copy_diagnostics()
    diagnostics = QGuiApplication.clipboard().text()
    assert "key source: keyring" in diagnostics

    # What is on screen.
    texts = [w.text() for w in window.findChildren(QObject) if hasattr(w, "text")
             and callable(w.text) and isinstance(w.text(), str)]  # fmt: skip
    window.close()
    for handler_ in logging.getLogger("rhdesk").handlers:
        handler_.flush()

    hits = [
        str(p)
        for p in (tmp_path / "data").rglob("*")
        if p.is_file() and KEY.encode() in p.read_bytes()
    ]
    written = [p for p in (tmp_path / "data").rglob("*") if p.is_file()]
    names = {p.name for p in written}
    assert {"settings.json", "history.sqlite3", "rhdesk.log"} <= names, names
    assert any(p.suffix == ".png" for p in written)  # results were written
    assert hits == []
    assert KEY not in caplog.text
    assert KEY not in diagnostics
    assert not [t for t in texts if KEY in t]


def test_the_status_bar_shows_site_balance_and_counts(qtbot, session, photos) -> None:
    window, emu = session
    key_dialog_save(qtbot, window, KEY)
    qtbot.waitUntil(lambda: "100,000 coins" in window.balance_label.text(), timeout=TIMEOUT)
    assert window.mode_label.text() == "runninghub.cn"
    start_task(qtbot, window, photos["coffee"], "Make the coffee cup bright red please")
    qtbot.waitUntil(lambda: "running" in window.counts_label.text()
                    or "queued" in window.counts_label.text(), timeout=TIMEOUT)  # fmt: skip
    qtbot.waitUntil(lambda: all_final(window), timeout=TIMEOUT)
    # Refreshed after the task: the emulator charged 20 coins for the image.
    qtbot.waitUntil(lambda: "99,980 coins" in window.balance_label.text(), timeout=TIMEOUT)
    emu.set_balance(12_345)
    window.findChild(type(window.run_action), "refreshAction").trigger()  # F5
    qtbot.waitUntil(lambda: "12,345 coins" in window.balance_label.text(), timeout=TIMEOUT)


def test_low_balance_asks_before_running(qtbot, session, photos) -> None:
    window, emu = session
    emu.set_balance(5)
    key_dialog_save(qtbot, window, KEY)
    qtbot.waitUntil(lambda: "5 coins" in window.balance_label.text(), timeout=TIMEOUT)
    window.slots.set_paths([photos["coffee"]])
    window.prompt.set_text("Make the coffee cup bright red please")
    qtbot.waitUntil(lambda: not window.blocking_reasons(), timeout=TIMEOUT)
    window.run()
    box = window.findChild(QMessageBox, "lowBalanceBox")
    assert box is not None and box.isVisible()
    assert "top up" in box.text() and not window.controller.tasks.rows()  # nothing sent yet
    box.findChild(QPushButton, "runAnywayButton").click()
    qtbot.waitUntil(lambda: len(window.controller.tasks.rows()) == 1, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: all_final(window), timeout=TIMEOUT)
    row = window.controller.tasks.rows()[0]
    assert row.status == "failed" and "Top up" in (row.message or row.error or "")
