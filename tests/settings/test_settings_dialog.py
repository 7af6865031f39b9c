"""The settings dialog on the real window: validation while editing, saving, the key in the
keyring (or this session only), "Test key" with site detection, moving the results folder,
theme and language without restart."""

from __future__ import annotations

import json
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from rhdesk import secrets
from rhdesk.ui.settings_dialog import SettingsDialog, folder_problem, template_problem

TIMEOUT = 10_000


def shown(w: QWidget) -> bool:
    # Not isVisible(): fields on a tab that is not the current one are never "visible".
    return not w.isHidden()


def open_dialog(qtbot, window, **kw) -> SettingsDialog:
    from rhdesk.ui.settings_dialog import open_settings

    dialog = open_settings(window, **kw)
    qtbot.waitExposed(dialog)
    return dialog


@pytest.fixture
def demo_window(make_window, qtbot):
    window = make_window("--demo")
    qtbot.waitUntil(lambda: window.controller.ready, timeout=TIMEOUT)
    return window


@pytest.fixture
def two_sites(emulator_factory):
    """runninghub.cn and runninghub.ai stand-ins: each knows its own key only."""
    cn = emulator_factory(api_keys={"cn-key-123456"})
    ai = emulator_factory(api_keys={"ai-key-654321"}, coins=777)
    return {"cn": cn.base_url, "ai": ai.base_url}, cn, ai


def test_the_menu_opens_the_dialog(qtbot, demo_window) -> None:
    action = demo_window.findChild(type(demo_window.run_action), "settingsAction")
    assert action.shortcut().toString() == "Ctrl+,"
    action.trigger()
    qtbot.waitUntil(lambda: demo_window.findChild(QWidget, "settingsDialog") is not None)
    dialog = demo_window.findChild(QWidget, "settingsDialog")
    assert dialog.isVisible()  # open(): window-modal, yet the event loop keeps running
    dialog.reject()


def test_fields_are_checked_while_typing(qtbot, demo_window, tmp_path) -> None:
    d = open_dialog(qtbot, demo_window)
    assert d.save_button.isEnabled()
    d.template_edit.setText("{source}_{colour}")
    assert not d.save_button.isEnabled()
    assert "{colour}" in d.template_problem.text() and shown(d.template_problem)
    d.template_edit.setText("{source}_{n")
    assert "unmatched" in d.template_problem.text()
    d.template_edit.setText("{source}_{model}_{n}")
    assert d.save_button.isEnabled() and not shown(d.template_problem)
    assert d.template_example.text().startswith("Example: IMG_0042_seedream-v4.5_1")

    d.folder_edit.setText("relative/folder")
    assert not d.save_button.isEnabled() and "full folder path" in d.folder_problem.text()
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    d.folder_edit.setText(str(a_file))
    assert "not a folder" in d.folder_problem.text()
    d.folder_edit.setText(str(tmp_path / "new" / "results"))
    assert d.save_button.isEnabled() and shown(d.move_results)

    d.key_edit.setText("has a space")
    assert not d.save_button.isEnabled() and shown(d.key_problem)
    d.key_edit.clear()
    assert d.save_button.isEnabled()

    demo_window.controller.queue = type("Q", (), {"concurrent_limit": 3})()
    d.concurrency.setValue(5)
    assert "3" in d.concurrency_hint.text() and "queue" in d.concurrency_hint.text()
    assert d.concurrency.maximum() == 20 and d.concurrency.minimum() == 0
    d.poll.setValue(2.0)
    assert "slow down" in d.poll_hint.text()
    d.reject()


def test_checks_as_plain_functions(tmp_path) -> None:
    assert template_problem("{source}_{n}") == ""
    assert template_problem("   ")
    assert template_problem("{}")
    assert folder_problem("") == ""
    assert folder_problem(str(tmp_path)) == ""
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    import os

    if os.geteuid() != 0:  # root can write anywhere
        assert "cannot write" in folder_problem(str(locked / "sub"))


def test_key_is_masked_and_shown_only_when_asked(qtbot, demo_window) -> None:
    d = open_dialog(qtbot, demo_window)
    from PySide6.QtWidgets import QLineEdit

    assert d.key_edit.echoMode() == QLineEdit.EchoMode.Password
    assert d.key_edit.text() == ""  # a saved key is never put back into the field
    d.show_key.setChecked(True)
    assert d.key_edit.echoMode() == QLineEdit.EchoMode.Normal
    d.show_key.setChecked(False)
    assert d.key_edit.echoMode() == QLineEdit.EchoMode.Password
    d.reject()


def test_save_writes_settings_and_puts_the_key_in_the_keyring(
    qtbot, demo_window, two_sites, _isolated_environment
) -> None:
    sites, cn, _ai = two_sites
    window = demo_window
    window.controller.sites = sites
    d = open_dialog(qtbot, window)
    d.key_edit.setText("cn-key-123456")
    d.template_edit.setText("{date}/{source}_{n}")
    d.concurrency.setValue(2)
    d.poll.setValue(7.5)
    d.strip_gps.setChecked(False)
    messages: list[str] = []
    window.controller.message.connect(messages.append)
    d.save_button.click()
    assert not d.isVisible()
    # Where it went, said plainly; in the keyring and nowhere else.
    assert _isolated_environment.store[("rhdesk", "api-key:cn")] == "cn-key-123456"
    assert any("saved in" in m for m in messages)
    saved = json.loads(window.controller.ctx.paths.settings.read_text(encoding="utf-8"))
    assert saved["name_template"] == "{date}/{source}_{n}"
    assert (saved["concurrency"], saved["poll_seconds"], saved["strip_gps"]) == (2, 7.5, False)
    assert "cn-key-123456" not in window.controller.ctx.paths.settings.read_text()
    # The window now works against the "cn" site with that key.
    qtbot.waitUntil(lambda: window.controller.ctx.base_url == cn.base_url, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: "coins" in window.balance_label.text(), timeout=TIMEOUT)
    assert not window.controller.demo
    assert window.controller.runner.config.name_template == "{date}/{source}_{n}"
    assert window.controller.runner.config.strip_gps is False


def test_without_a_keyring_the_user_is_told_and_the_key_stays_in_memory(
    qtbot, demo_window, two_sites, tmp_path
) -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())
    sites, cn, _ai = two_sites
    window = demo_window
    window.controller.sites = sites
    d = open_dialog(qtbot, window)
    assert shown(d.keyring_note) and "no system keyring" in d.keyring_note.text()
    assert d.session_only.isChecked() and not d.session_only.isEnabled()
    d.key_edit.setText("cn-key-123456")
    d.save_button.click()
    assert secrets.get_api_key("cn").source == "session"
    qtbot.waitUntil(lambda: window.controller.ctx.base_url == cn.base_url, timeout=TIMEOUT)
    assert window.controller.ctx.key_source == "session"
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and not any(b"cn-key-123456" in p.read_bytes() for p in written)
    secrets.forget_api_key("cn")


def test_a_keyring_that_fails_on_write_asks_before_keeping_the_key_for_the_session(
    qtbot, demo_window, two_sites, _isolated_environment, monkeypatch
) -> None:
    sites, cn, _ai = two_sites
    window = demo_window
    window.controller.sites = sites

    def refuse(*_a):
        raise keyring.errors.PasswordSetError("locked")

    monkeypatch.setattr(_isolated_environment, "set_password", refuse)
    d = open_dialog(qtbot, window)
    d.key_edit.setText("cn-key-123456")
    d.save_button.click()
    box = d.findChild(QMessageBox, "noKeyringBox")
    assert box is not None and box.isVisible() and d.isVisible()
    assert "session only" in box.text()
    box.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: not d.isVisible(), timeout=TIMEOUT)
    assert secrets.get_api_key("cn").source == "session"
    secrets.forget_api_key("cn")


def test_test_key_detects_the_site_the_key_belongs_to(qtbot, demo_window, two_sites) -> None:
    sites, _cn, _ai = two_sites
    d = open_dialog(qtbot, demo_window, sites=sites)
    d.site.setCurrentIndex(d.site.findData("cn"))
    d.key_edit.setText("ai-key-654321")
    d.test_button.click()
    qtbot.waitUntil(lambda: d.last_check is not None, timeout=TIMEOUT)
    assert not d.last_check.ok and d.last_check.belongs_to == "ai"
    assert d.test_result.text() == "This key belongs to runninghub.ai."
    assert shown(d.switch_site_button)
    d.switch_site_button.click()
    assert d.selected_site() == "ai" and d.key_edit.text() == "ai-key-654321"

    d.last_check = None
    d.test_button.click()
    qtbot.waitUntil(lambda: d.last_check is not None, timeout=TIMEOUT)
    assert d.last_check.ok and "777 coins" in d.test_result.text()

    d.last_check = None
    d.key_edit.setText("nobody-s-key-000")
    d.test_button.click()
    qtbot.waitUntil(lambda: d.last_check is not None, timeout=TIMEOUT)
    assert not d.last_check.ok and d.last_check.belongs_to is None
    assert "did not accept this key" in d.test_result.text()
    assert "nobody-s-key-000" not in d.test_result.text()
    d.reject()


def test_moving_the_results_folder_keeps_the_history_working(
    qtbot, make_window, tmp_path, photos
) -> None:
    window = make_window("--demo")
    c = window.controller
    qtbot.waitUntil(lambda: c.ready, timeout=TIMEOUT)
    window.slots.add_files([photos["coffee"]])
    window.prompt.set_text("Make the coffee cup bright red please")
    qtbot.waitUntil(lambda: not window.blocking_reasons(), timeout=TIMEOUT)
    window.run()
    qtbot.waitUntil(lambda: any(r.results and not r.active for r in c.tasks.rows()), timeout=20_000)
    row = next(r for r in c.tasks.rows() if r.results)
    old_file = Path(row.results[0])
    assert old_file.exists()
    new_folder = tmp_path / "elsewhere" / "results"
    d = open_dialog(qtbot, window)
    d.folder_edit.setText(str(new_folder))
    assert shown(d.move_results) and d.move_results.isChecked()
    d.save_button.click()
    qtbot.waitUntil(lambda: not old_file.exists(), timeout=TIMEOUT)
    qtbot.waitUntil(
        lambda: all(
            Path(p).is_relative_to(new_folder.resolve()) for r in c.tasks.rows() for p in r.results
        ),
        timeout=TIMEOUT,
    )
    moved = Path(next(r for r in c.tasks.rows() if r.results).results[0])
    assert moved.exists() and moved.name == old_file.name
    assert c.ctx.paths.library == new_folder.resolve()
    assert c.runner.config.library == new_folder.resolve()
    assert json.loads(c.ctx.paths.settings.read_text())["library"] == str(new_folder.resolve())


def test_theme_applies_at_once(qtbot, demo_window) -> None:
    app = QApplication.instance()
    before = app.palette().color(QPalette.ColorRole.Window)
    d = open_dialog(qtbot, demo_window)
    d.theme.setCurrentIndex(d.theme.findData("dark"))
    d.save_button.click()
    assert app.style().name().lower() == "fusion"
    assert app.palette().color(QPalette.ColorRole.Window).lightnessF() < 0.3
    d = open_dialog(qtbot, demo_window)
    d.theme.setCurrentIndex(d.theme.findData("system"))
    d.save_button.click()
    assert app.palette().color(QPalette.ColorRole.Window) == before


def test_language_switch_rebuilds_the_window_with_its_state(qtbot, make_window, photos) -> None:
    window = make_window("--demo")
    qtbot.waitUntil(lambda: window.controller.ready, timeout=TIMEOUT)
    window.slots.add_files([photos["coffee"], photos["rocket"]])
    window.prompt.set_text("Put the rocket next to the coffee cup")
    window.model_picker.setCurrentIndex(window.model_picker.findData("seedream-v4"))
    window.sequential.setChecked(True)
    window.max_images.setValue(3)
    qtbot.waitUntil(lambda: not window.slots.is_loading(), timeout=TIMEOUT)
    before = window.capture_state()
    controller = window.controller

    d = open_dialog(qtbot, window)
    d.language.setCurrentIndex(d.language.findData("zh_CN"))
    d.save_button.click()

    def replaced():
        tops = [w for w in QApplication.topLevelWidgets() if w.objectName() == "mainWindow"]
        return next((w for w in tops if w is not window and w.isVisible()), None)

    qtbot.waitUntil(lambda: replaced() is not None, timeout=TIMEOUT)
    new = replaced()
    make_window.built.append(new)
    assert new.controller is controller
    assert new.run_button.text() == "运行"
    assert new.menuBar().actions()[0].text() == "文件(&F)"
    qtbot.waitUntil(lambda: not new.slots.is_loading(), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: new.capture_state()["size"] == before["size"], timeout=TIMEOUT)
    after = new.capture_state()
    for key in ("paths", "prompt", "family", "preset", "sequential", "max_images"):
        assert after[key] == before[key], key
    # The old window is gone and nothing of it answers the controller's signals any more.
    qtbot.waitUntil(lambda: not window.isVisible())
    with qtbot.captureExceptions() as errors:
        controller.refresh_account()
        controller.message.emit("still alive")
        controller.connection_changed.emit()
        controller.tasks.reload()
        qtbot.wait(300)
    assert not errors, errors
    assert new.statusBar().currentMessage() == "still alive"
