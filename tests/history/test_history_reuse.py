"""Reusing a task from the history against the emulator: load into the editor restores every
field exactly, run again uploads again from the local copies and makes a new task."""

from __future__ import annotations

from pathlib import Path

from gui_helpers import TASK_TIMEOUT_MS, drop_files
from PySide6.QtCore import Qt

from rhdesk.store import db as S

PROMPT = "Turn image 1 into a watercolour and keep image 2's colours"


def test_load_into_editor_and_run_again(qtbot, make_window, emulator_factory, monkeypatch,
                                        photos) -> None:  # fmt: skip
    emu = emulator_factory()
    monkeypatch.setenv("RHDESK_API_KEY", emu.api_key)
    window = make_window("--base-url", emu.base_url)
    model = window.controller.tasks
    # a task with everything set away from the defaults
    assert drop_files(window.slots.slot(0), photos[:2])
    qtbot.waitUntil(lambda: not window.slots.is_loading(), timeout=TASK_TIMEOUT_MS)
    window.model_picker.setCurrentIndex(window.model_picker.findData("seedream-v4"))
    window.prompt.set_text(PROMPT)
    window.size_picker.set_size(2560, 1440)
    window.sequential.setChecked(True)
    window.max_images.setValue(3)
    qtbot.waitUntil(window.run_button.isEnabled, timeout=TASK_TIMEOUT_MS)
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: model.rowCount() == 1 and not model.rows()[0].active,
                    timeout=TASK_TIMEOUT_MS)  # fmt: skip
    first = window.controller.store.get(model.ids()[0])
    assert first.status == S.SUCCEEDED, first.error_message
    assert emu.submit_count == 1
    copies = [Path(i.local_path) for i in first.inputs]
    assert all(p.exists() for p in copies)

    # the editor moves on to something else entirely
    window.slots.clear_all()
    window.model_picker.setCurrentIndex(window.model_picker.findData("seedream-v4.5"))
    window.prompt.set_text("something else")
    window.sequential.setChecked(False)
    window.size_picker.set_size(2048, 2048)

    window.history.select_task(first.id)
    qtbot.waitUntil(lambda: window.history.detail.task_id == first.id)
    window.history.actions_by_name["loadAction"].trigger()
    qtbot.waitUntil(lambda: not window.slots.is_loading(), timeout=TASK_TIMEOUT_MS)
    assert window.slots.paths() == copies  # the local copies rhdesk kept, in slot order
    assert window.prompt.text() == PROMPT
    assert window.model_picker.currentData() == "seedream-v4"
    assert window.current_model().endpoint == first.endpoint
    assert window.size_picker.size() == (2560, 1440)
    assert window.sequential.isChecked() and window.max_images.value() == 3
    assert window.snapshot().max_images == 3
    assert not window.blocking_reasons()

    # run again: a new task, same parameters, the images uploaded again
    window.history.actions_by_name["runAgainAction"].trigger()
    qtbot.waitUntil(lambda: model.rowCount() == 2 and not any(r.active for r in model.rows()),
                    timeout=TASK_TIMEOUT_MS)  # fmt: skip
    assert emu.submit_count == 2
    again = window.controller.store.get(model.ids()[0])
    assert again.id != first.id and again.status == S.SUCCEEDED, again.error_message
    for field in ("endpoint", "prompt", "width", "height", "sequential", "max_images"):
        assert getattr(again, field) == getattr(first, field), field
    # uploaded again (old links expire after a day), from the same local copies
    assert [Path(i.local_path) for i in again.inputs] == copies
    for old, new in zip(first.inputs, again.inputs, strict=True):
        assert new.uploaded_url and new.uploaded_at > old.uploaded_at
    assert len(emu.tasks()[1]["body"]["imageUrls"]) == 2
    assert window.history.detail.task_id in (first.id, again.id)
