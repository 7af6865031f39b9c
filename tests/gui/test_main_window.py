"""The real main window against the emulator: drops, typing, Run, results on screen and on disk.

Each test builds the window with ``rhdesk.app.build_main_window`` exactly as ``rhdesk`` does,
either in demo mode or against a test emulator (``--base-url`` and ``RHDESK_API_KEY``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gui_helpers import TASK_TIMEOUT_MS, close_window, drop_files
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QAbstractItemView, QLabel, QPushButton, QSpinBox, QWidget

from rhdesk.emulator import Fault
from rhdesk.models.tasks import RowRole
from rhdesk.store import db as S

PROMPT = "Replace the grey sky with a warm sunset"
REQUIRED_NAMES = [f"imageSlot{i}" for i in range(10)] + [
    "promptEdit", "modelPicker", "widthSpin", "heightSpin", "runButton", "historyList",
    "compareView",
]  # fmt: skip


def child(window, name: str, cls: type = QWidget):
    w = window.findChild(cls, name)
    assert w is not None, f"no widget named {name!r}"
    return w


@pytest.fixture
def connected(make_window, emulator_factory, monkeypatch):
    """``connected(**emulator_config)``: a window talking to a fresh test emulator with a key."""

    def make(**config):
        emu = emulator_factory(**config)
        monkeypatch.setenv("RHDESK_API_KEY", emu.api_key)
        return make_window("--base-url", emu.base_url), emu

    return make


def history_rows(window) -> list:
    view = child(window, "historyList", QAbstractItemView)
    model = view.model()
    return [model.index(r, 0).data(RowRole) for r in range(model.rowCount(QModelIndex()))]


def history_texts(window, role: Qt.ItemDataRole) -> list[str]:
    view = child(window, "historyList", QAbstractItemView)
    model = view.model()
    return [model.index(r, 0).data(role) or "" for r in range(model.rowCount(QModelIndex()))]


def fill_slots(qtbot, window, files: list[Path]) -> None:
    assert drop_files(child(window, "imageSlot0"), files)
    qtbot.waitUntil(lambda: not window.slots.is_loading(), timeout=TASK_TIMEOUT_MS)


def type_prompt(qtbot, window, text: str) -> None:
    edit = child(window, "promptEdit")
    edit.selectAll()
    qtbot.keyClicks(edit, text)


def wait_run_enabled(qtbot, window) -> QPushButton:
    run = child(window, "runButton", QPushButton)
    qtbot.waitUntil(run.isEnabled, timeout=TASK_TIMEOUT_MS)
    return run


def wait_all_final(qtbot, window, count: int) -> list:
    def done() -> bool:
        rows = history_rows(window)
        return len(rows) == count and all(not r.active for r in rows)

    qtbot.waitUntil(done, timeout=TASK_TIMEOUT_MS)
    return history_rows(window)


# -- names ------------------------------------------------------------------------------------


def test_every_named_widget_has_an_object_name_and_an_accessible_name(make_window) -> None:
    window = make_window("--demo")
    for name in REQUIRED_NAMES:
        w = child(window, name)
        assert w.accessibleName().strip(), f"{name} has no accessible name"
        # the two views explain themselves per item / on their own children instead
        assert w.toolTip().strip() or name in ("compareView", "historyList"), f"{name}: no tooltip"
    assert isinstance(child(window, "historyList"), QAbstractItemView)
    assert isinstance(child(window, "widthSpin"), QSpinBox)


# -- the main path ----------------------------------------------------------------------------


def test_drop_type_run_shows_the_result_on_screen_and_on_disk(
    qtbot, connected, photo_files, tmp_path
) -> None:
    window, emu = connected()
    fill_slots(qtbot, window, photo_files[:2])
    assert window.slots.paths() == photo_files[:2]
    assert "main image" in child(window, "imageSlot0").accessibleName()

    type_prompt(qtbot, window, PROMPT)
    qtbot.mouseClick(wait_run_enabled(qtbot, window), Qt.MouseButton.LeftButton)

    (row,) = wait_all_final(qtbot, window, 1)
    assert row.status == S.SUCCEEDED, row.error
    assert row.prompt == PROMPT
    assert emu.submit_count == 1
    # on disk: the result is a real, complete file under this test's data folder
    assert row.results and all(p.is_file() and p.stat().st_size > 0 for p in row.results)
    assert tmp_path / "data" in row.results[0].parents
    # on screen: the history says so, and the compare view shows before and after (split)
    assert history_texts(window, Qt.ItemDataRole.AccessibleTextRole)[0].startswith("Done")
    compare = child(window, "compareView")
    qtbot.waitUntil(lambda: compare.current_image() is not None, timeout=TASK_TIMEOUT_MS)
    qtbot.waitUntil(lambda: compare.canvas.both(), timeout=TASK_TIMEOUT_MS)
    assert not compare.side_action.isChecked()  # split slider is the default
    assert compare.result_paths() == row.results


def test_ctrl_enter_in_the_prompt_runs(qtbot, make_window, photo_files) -> None:
    window = make_window("--demo")
    fill_slots(qtbot, window, photo_files[:1])
    type_prompt(qtbot, window, PROMPT)
    wait_run_enabled(qtbot, window)
    qtbot.keyClick(
        child(window, "promptEdit"), Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier
    )
    qtbot.waitUntil(lambda: len(history_rows(window)) == 1, timeout=TASK_TIMEOUT_MS)
    assert history_rows(window)[0].prompt == PROMPT
    assert "\n" not in window.prompt.text()  # the key ran the task; it did not add a line


# -- the form refuses what cannot work --------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "height", "reason"),
    [
        (400, 2048, "out of range"),  # below the model's minimum side
        (2049, 2048, "multiple of 8"),  # not a multiple of the width step
        (1024, 1024, "at least"),  # each side fine, too few pixels in all
    ],
)
def test_an_invalid_custom_size_disables_run_with_the_reason_visible(
    qtbot, make_window, width, height, reason
) -> None:
    window = make_window("--demo")
    type_prompt(qtbot, window, PROMPT)
    run = wait_run_enabled(qtbot, window)
    for name, value in (("widthSpin", width), ("heightSpin", height)):
        spin = child(window, name, QSpinBox)
        spin.lineEdit().selectAll()
        qtbot.keyClicks(spin, str(value))
        spin.interpretText()
    assert not run.isEnabled()
    assert not window.run_action.isEnabled()
    why = child(window, "whyLabel", QLabel)
    assert why.isVisible() and reason in why.text()
    assert reason in child(window, "sizeProblem", QLabel).text()
    assert reason in run.toolTip()
    # fixing the size enables Run again
    spin = child(window, "widthSpin", QSpinBox)
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, "4096")
    heights = child(window, "heightSpin", QSpinBox)
    heights.lineEdit().selectAll()
    qtbot.keyClicks(heights, "2048")
    qtbot.waitUntil(run.isEnabled)
    assert not why.isVisible()


def test_an_eleventh_image_is_refused_and_the_first_ten_stay(
    qtbot, make_window, photo_files
) -> None:
    window = make_window("--demo")
    with qtbot.waitSignal(window.slots.message) as said:
        assert drop_files(child(window, "imageSlot0"), photo_files)
    assert "Only 10 images fit" in said.args[0] and photo_files[10].name in said.args[0]
    assert "Only 10 images fit" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not window.slots.is_loading(), timeout=TASK_TIMEOUT_MS)
    assert window.slots.paths() == photo_files[:10]
    for i in range(10):
        assert child(window, f"imageSlot{i}").path() == photo_files[i]


# -- failures, concurrency, stop --------------------------------------------------------------


def test_a_failing_task_shows_its_error_in_plain_words_next_to_the_task(
    qtbot, connected, photo_files
) -> None:
    window, emu = connected()
    emu.add_fault(Fault("submit", "fail_task", error_code="1505"))
    fill_slots(qtbot, window, photo_files[:1])
    type_prompt(qtbot, window, PROMPT)
    qtbot.mouseClick(wait_run_enabled(qtbot, window), Qt.MouseButton.LeftButton)
    (row,) = wait_all_final(qtbot, window, 1)
    assert row.status == S.FAILED
    plain = "refused the content"
    assert plain in row.error and "Change the prompt" in row.error  # what happened, what to do
    tooltip = history_texts(window, Qt.ItemDataRole.ToolTipRole)[0]
    assert "Failed" in tooltip and plain in tooltip
    assert plain in history_texts(window, Qt.ItemDataRole.AccessibleTextRole)[0]
    assert plain in window.statusBar().currentMessage()
    assert row.stage_text().startswith("The model refused")  # words first; a code is no help


def test_two_tasks_at_once_both_succeed_and_both_are_in_history(
    qtbot, connected, photo_files
) -> None:
    window, emu = connected(queue_seconds=0.3, run_seconds=1.5)
    fill_slots(qtbot, window, photo_files[:2])
    type_prompt(qtbot, window, PROMPT)
    run = wait_run_enabled(qtbot, window)
    qtbot.mouseClick(run, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(history_rows(window)) == 1, timeout=TASK_TIMEOUT_MS)
    # the form stays editable while the first task runs
    second = "Turn the scene into a snowy winter morning"
    type_prompt(qtbot, window, second)
    assert window.prompt.text() == second
    assert history_rows(window)[0].active
    qtbot.mouseClick(wait_run_enabled(qtbot, window), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(history_rows(window)) == 2, timeout=TASK_TIMEOUT_MS)
    assert all(r.active for r in history_rows(window)), "the first ended before the second began"

    rows = wait_all_final(qtbot, window, 2)
    assert [r.prompt for r in rows] == [second, PROMPT]  # newest first
    assert all(r.status == S.SUCCEEDED for r in rows), [r.error for r in rows]
    assert emu.submit_count == 2
    assert emu.max_concurrent_seen == 2
    assert rows[0].results[0] != rows[1].results[0]


def test_running_tasks_show_their_stage_and_elapsed_time_every_second(
    qtbot, connected, photo_files
) -> None:
    window, _emu = connected(queue_seconds=0.2, run_seconds=4.0)
    fill_slots(qtbot, window, photo_files[:1])
    type_prompt(qtbot, window, PROMPT)
    qtbot.mouseClick(wait_run_enabled(qtbot, window), Qt.MouseButton.LeftButton)
    view = child(window, "historyList", QAbstractItemView)
    texts: list[str] = []
    stages: set[str] = set()

    def record(top_left: QModelIndex, *_args) -> None:
        if top_left.row() == 0:
            row = top_left.data(RowRole)
            stages.add(row.status)
            texts.append(view.model().index(0, 0).data(Qt.ItemDataRole.AccessibleTextRole))

    view.model().dataChanged.connect(record)
    qtbot.waitUntil(lambda: any("Running · 2 s" in t for t in texts), timeout=TASK_TIMEOUT_MS)
    assert any("Running · 1 s" in t for t in texts)  # it counted up, one second at a time
    assert {S.UPLOADING, S.RUNNING} <= stages
    assert any("Uploading image 1 of 1" in t for t in texts)


def test_stopping_a_running_task_says_the_server_may_still_finish_it(
    qtbot, connected, photo_files
) -> None:
    window, _emu = connected(queue_seconds=0.2, run_seconds=5.0)  # cancel refused by default
    fill_slots(qtbot, window, photo_files[:1])
    type_prompt(qtbot, window, PROMPT)
    qtbot.mouseClick(wait_run_enabled(qtbot, window), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: bool(history_rows(window)) and history_rows(window)[0].status == S.RUNNING,
        timeout=TASK_TIMEOUT_MS,
    )
    stop = child(window, "stopButton", QPushButton)
    assert stop.isEnabled()
    qtbot.mouseClick(stop, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: "may still finish" in window.statusBar().currentMessage(), timeout=TASK_TIMEOUT_MS
    )
    row = history_rows(window)[0]
    assert row.active  # rhdesk keeps watching it so a late result is still saved
    assert "may still finish" in history_texts(window, Qt.ItemDataRole.ToolTipRole)[0]


# -- start-up, persistence --------------------------------------------------------------------


def test_without_a_key_a_banner_offers_the_key_and_demo_mode(qtbot, make_window) -> None:
    window = make_window()
    banner = child(window, "banner")
    key_button = child(window, "enterKeyButton", QPushButton)
    demo_button = child(window, "demoButton", QPushButton)
    assert banner.isVisible() and key_button.isVisible() and demo_button.isVisible()
    assert key_button.text() == "Enter API key…"
    assert demo_button.text() == "Try demo mode"
    assert "No RunningHub API key" in child(window, "bannerLabel", QLabel).text()
    assert not window.controller.ready

    qtbot.mouseClick(demo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.controller.ready, timeout=TASK_TIMEOUT_MS)
    assert window.controller.demo
    assert "Demo mode" in child(window, "bannerLabel", QLabel).text()
    assert not demo_button.isVisible()
    assert "demo" in window.windowTitle()
    assert child(window, "modeLabel", QLabel).text() == "Demo mode"


def test_window_geometry_and_splitter_are_restored_with_the_same_data_dir(
    qtbot, make_window, tmp_path
) -> None:
    data = tmp_path / "kept"
    first = make_window("--demo", data_dir=data)
    first.setGeometry(40, 50, 1150, 720)
    first.splitter.setSizes([600, 250, 300])
    qtbot.waitUntil(lambda: first.size().width() == 1150)
    geometry, sizes = first.geometry(), first.splitter.sizes()
    close_window(qtbot, first)

    second = make_window("--demo", data_dir=data)
    assert second.geometry() == geometry
    assert second.splitter.sizes() == sizes
    close_window(qtbot, second)
    third = make_window("--demo", data_dir=data)  # and it does not creep from start to start
    assert third.geometry() == geometry


# -- look -------------------------------------------------------------------------------------


def _contrast(a, b) -> float:
    def lum(c) -> float:
        def ch(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

        return 0.2126 * ch(c.redF()) + 0.7152 * ch(c.greenF()) + 0.0722 * ch(c.blueF())

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("dark", [False, True])
def test_history_status_text_is_readable_selected_or_not_in_light_and_dark(
    qapp, dark: bool
) -> None:
    from PySide6.QtGui import QPalette
    from qt_helpers import dark_palette  # tests/ui's (on sys.path via tests/gui/conftest.py)

    from rhdesk.ui.history import STATUS_COLOURS, status_colour

    pal = dark_palette() if dark else QPalette()
    for status in [*STATUS_COLOURS, S.RUNNING]:
        unselected = status_colour(status, pal, selected=False)
        selected = status_colour(status, pal, selected=True)
        base = pal.color(QPalette.ColorRole.Base)
        highlight = pal.color(QPalette.ColorRole.Highlight)
        assert _contrast(unselected, base) >= 4.5, (status, unselected.name(), base.name())
        assert _contrast(selected, highlight) >= 3.0, (status, selected.name(), highlight.name())
