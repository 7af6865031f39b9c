"""Logs with secrets redacted, "Copy diagnostics", the keyring module, and the global error
handler (Qt slots, qasync slots, orphaned asyncio tasks and threads all reach one dialog)."""

from __future__ import annotations

import asyncio
import logging
import threading

import keyring
import keyring.backends.fail
import pytest
import qasync
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox

from rhdesk import logs, secrets
from rhdesk.diagnostics import build_diagnostics, tail_log
from rhdesk.paths import app_paths
from rhdesk.settings import Settings

KEY = "sk-live-SECRETSECRET-9f8e7d"


# -- logs ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "line",
    [
        f"token {KEY} leaked",
        "Authorization: Bearer abcdefghijkl",
        '{"Authorization": "Bearer abcdefghijkl"}',
        '{"apiKey": "abcdefghijkl", "taskId": "1"}',
        "{'apikey': 'abcdefghijkl'}",
        "api_key=abcdefghijkl",
        "Rh-Comfy-Auth: abcdefghijkl",
        "GET https://cdn.example.com/out/x.png?X-Amz-Signature=abcdefghijkl&X-Amz-Date=1 200",
        "https://rh-images.oss.aliyuncs.com/a.png?OSSAccessKeyId=abcdefghijkl&Expires=9",
        "https://cdn.example.com/a.png?auth_key=abcdefghijkl",
    ],
)
def test_redaction(line: str) -> None:
    logs.add_secret(KEY)
    out = logs.redact(line)
    assert "abcdefghijkl" not in out and KEY not in out and "[redacted]" in out


def test_log_files_rotate_redact_and_httpx_stays_quiet(tmp_path, caplog) -> None:
    path = logs.setup_logging(tmp_path / "logs")
    logs.add_secret(KEY)
    assert logging.getLogger("httpx").level == logging.WARNING
    assert logging.getLogger("httpcore").level == logging.WARNING
    handler = next(h for h in logging.getLogger("rhdesk").handlers if getattr(h, "_rhdesk", 0))
    assert handler.maxBytes > 0 and handler.backupCount >= 3  # rotating
    log = logging.getLogger("rhdesk.test")
    with caplog.at_level(logging.INFO):
        log.info("calling with %s", KEY)
        log.info("GET %s", "https://x.example/a.png?signature=abcdefghijkl")
        try:
            raise ValueError(f"bad key {KEY}")
        except ValueError:
            log.exception("failed")
    handler.flush()
    text = path.read_text(encoding="utf-8")
    assert "calling with [redacted]" in text and "a.png?[redacted]" in text
    assert KEY not in text and "abcdefghijkl" not in text
    assert KEY not in " ".join(r.getMessage() for r in caplog.records)  # redacted at the source


# -- diagnostics -----------------------------------------------------------------------------
def test_diagnostics_have_what_support_needs_and_no_secrets(tmp_path) -> None:
    paths = app_paths(tmp_path / "data").ensure()
    logs.setup_logging(paths.logs)
    logs.add_secret(KEY)
    log = logging.getLogger("rhdesk.test")
    for i in range(300):
        log.info("line %d", i)
    log.info("the key was %s", KEY)
    settings = Settings(base_url="https://user:pw@proxy.example/rh", recent_prompts=["my secret"])
    text = build_diagnostics(
        settings=settings, paths=paths, key_source="keyring", site="ai", demo=False
    )
    for needle in ("rhdesk 0.", "platform:", "Python:", "Qt:", "key source: keyring",
                   "site: ai", f"data: {paths.data_dir}", "name_template", "TLS verification: on",
                   "line 299", "the key was [redacted]"):  # fmt: skip
        assert needle in text, needle
    assert "line 50\n" not in text  # only the last ~200 lines
    assert KEY not in text and "my secret" not in text and "pw@" not in text
    assert len(tail_log(paths.logs, 200)) == 200


def test_copy_diagnostics_puts_them_on_the_clipboard(qtbot, make_window) -> None:
    window = make_window("--demo")
    qtbot.waitUntil(lambda: window.controller.ready, timeout=10_000)
    action = window.findChild(type(window.run_action), "diagnosticsAction")
    action.trigger()
    text = QGuiApplication.clipboard().text()
    assert text.startswith("rhdesk ") and "key source: demo" in text
    assert "demo-key-0000" not in text  # the demo key is a key too


# -- the keyring module ----------------------------------------------------------------------
def test_keyring_storage_says_where_it_went(_isolated_environment) -> None:
    assert secrets.keyring_problem() == ""
    assert secrets.store_api_key("ai", KEY) == "keyring"
    assert _isolated_environment.store[("rhdesk", "api-key:ai")] == KEY
    assert secrets.get_api_key("ai").source == "keyring"
    secrets.forget_api_key("ai")
    assert secrets.get_api_key("ai").key is None


def test_no_keyring_is_said_plainly_and_nothing_is_written(tmp_path) -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())
    problem = secrets.keyring_problem()
    assert "no system keyring" in problem
    with pytest.raises(secrets.NoKeyringError) as raised:
        secrets.store_api_key("cn", KEY)
    assert KEY not in str(raised.value) and "session only" in str(raised.value)
    assert secrets.store_api_key("cn", KEY, session_only=True) == "session"
    assert secrets.get_api_key("cn").source == "session"
    secrets.forget_api_key("cn")
    lookup = secrets.get_api_key("cn")
    assert lookup.key is None and lookup.problem


def test_a_plaintext_file_keyring_is_not_taken_for_a_safe_one(monkeypatch) -> None:
    class PlaintextKeyring:  # what keyrings.alt.file offers: a file on disk
        __module__ = "keyrings.alt.file"

    monkeypatch.setattr(keyring, "get_keyring", lambda: PlaintextKeyring())
    assert secrets.keyring_problem()
    with pytest.raises(secrets.NoKeyringError):
        secrets.store_api_key("cn", KEY)


# -- the global error handler ----------------------------------------------------------------
class _Emitter(QObject):
    fire = Signal()


@pytest.fixture
def handler(qapp, qloop_running, monkeypatch):
    import sys

    from rhdesk.ui import support

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    h = support.install_error_handlers(qloop_running)
    h.handled = 0
    yield h
    for box in QApplication.topLevelWidgets():
        if isinstance(box, QMessageBox) and box.objectName() == "crashBox":
            box.close()
    qloop_running.set_exception_handler(None)


def crash_boxes() -> list[QMessageBox]:
    return [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, QMessageBox) and w.objectName() == "crashBox" and w.isVisible()
    ]


def test_a_failing_qasync_slot_shows_the_error_dialog(qtbot, handler) -> None:
    logs.add_secret(KEY)

    class Thing(QObject):
        @qasync.asyncSlot()
        async def act(self) -> None:
            await asyncio.sleep(0)
            raise RuntimeError(f"boom with {KEY}")

    thing = Thing()
    emitter = _Emitter()
    emitter.fire.connect(thing.act)
    emitter.fire.emit()
    qtbot.waitUntil(lambda: handler.handled == 1, timeout=5000)
    boxes = crash_boxes()
    assert boxes and "boom with [redacted]" in boxes[0].informativeText()
    assert KEY not in boxes[0].detailedText()
    assert boxes[0].findChild(type(boxes[0].buttons()[0]), "copyDiagnosticsButton")


def test_an_orphaned_task_and_a_plain_slot_reach_the_handler(qtbot, handler) -> None:
    async def orphan() -> None:
        raise ValueError("nobody awaited me")

    task = asyncio.get_event_loop().create_task(orphan())
    qtbot.waitUntil(task.done, timeout=5000)
    del task  # the loop reports an exception nobody retrieved when the task is collected
    import gc

    gc.collect()
    qtbot.waitUntil(lambda: handler.handled >= 1, timeout=5000)

    def bad_slot() -> None:
        raise KeyError("from a Qt slot")

    QTimer.singleShot(0, bad_slot)
    qtbot.waitUntil(lambda: handler.handled >= 2, timeout=5000)

    threading.Thread(target=lambda: 1 / 0).start()
    qtbot.waitUntil(lambda: handler.handled >= 3, timeout=5000)
    assert len(crash_boxes()) == 3  # and never more than a few at once
