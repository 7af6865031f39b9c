from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QByteArray, QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication
from qt_helpers import drop_files, send_drop

pytest.importorskip("rhdesk.core.imageops", reason="core image ops not written yet")
pytest.importorskip("rhdesk.core.prepare", reason="core image inspection not written yet")

from rhdesk.ui.slots import (  # noqa: E402
    SLOT_COUNT,
    SLOT_MIME,
    THUMB_SIDE,
    SlotGrid,
    human_size,
    load_slot_file,
)


class Chooser:
    """Stands in for the file dialog: records the call and answers with prepared files."""

    def __init__(self) -> None:
        self.calls: list[bool] = []
        self.answer: list[Path] = []

    def __call__(self, parent, several: bool, accept) -> None:
        self.calls.append(several)
        if self.answer:
            accept(self.answer)


@pytest.fixture
def chooser() -> Chooser:
    return Chooser()


@pytest.fixture
def grid(qtbot, tmp_path: Path, worker, chooser: Chooser) -> SlotGrid:
    g = SlotGrid(tmp_path / "pasted", worker)
    g.set_file_chooser(chooser)
    qtbot.addWidget(g)
    g.show()
    qtbot.waitExposed(g)
    return g


def wait_loaded(qtbot, grid: SlotGrid) -> None:
    qtbot.waitUntil(lambda: not grid.is_loading(), timeout=10_000)


def test_slots_have_names_for_tests_and_screen_readers(grid: SlotGrid) -> None:
    assert [s.objectName() for s in grid.slots] == [f"imageSlot{i}" for i in range(10)]
    assert grid.slot(0).accessibleName() == "Image slot 1 (main image)"
    assert grid.slot(4).accessibleName() == "Image slot 5"
    assert grid.slot(0).toolTip()
    layout = grid.layout()
    assert layout.itemAtPosition(1, 0).widget() is grid.slot(5)  # 2 rows × 5
    assert all(s.focusPolicy() & Qt.FocusPolicy.TabFocus for s in grid.slots)


def test_dropping_a_file_shows_thumbnail_and_facts(
    qtbot, grid: SlotGrid, photo_files: list[Path]
) -> None:
    with qtbot.waitSignal(grid.info_ready, timeout=10_000) as ready:
        assert drop_files(grid.slot(0), [photo_files[1]])  # chelsea.png, 451×300
    assert ready.args == [0]
    assert grid.paths() == [photo_files[1]]
    info = grid.slot_info(0)
    assert info is not None and (info.width, info.height) == (451, 300)
    lines = grid.slot(0).caption_lines()
    assert lines[0] == "451×300"
    assert "PNG" in lines[1] and human_size(photo_files[1].stat().st_size) in lines[1]
    load = grid.slot(0).entry().load
    assert load.image is not None
    assert max(load.image.width(), load.image.height()) <= THUMB_SIDE * grid.devicePixelRatioF()
    assert grid.problems() == {}


def test_several_files_fill_free_slots_in_order(qtbot, grid: SlotGrid, photo_files) -> None:
    grid.add_files(photo_files[:2])
    # Dropped on an empty slot further right: no gaps, so they follow the filled ones.
    with qtbot.waitSignal(grid.changed):
        assert drop_files(grid.slot(7), photo_files[2:5])
    assert grid.paths() == photo_files[:5]
    wait_loaded(qtbot, grid)
    assert [s.path() for s in grid.slots[:5]] == photo_files[:5]
    assert all(s.path() is None for s in grid.slots[5:])


def test_files_beyond_ten_are_refused_and_nothing_is_lost(
    qtbot, grid: SlotGrid, photo_files
) -> None:
    grid.add_files(photo_files[:9])
    with qtbot.waitSignal(grid.message) as msg:
        assert drop_files(grid.slot(9), photo_files[9:12])
    assert msg.args == ["Only 10 images fit: 2 files were not added (photo11.png, photo12.png)."]
    assert grid.paths() == photo_files[:10]


def test_add_files_returns_the_refused(grid: SlotGrid, photo_files) -> None:
    refused = grid.add_files(photo_files)
    assert refused == photo_files[10:]
    assert len(grid.paths()) == SLOT_COUNT
    assert grid.add_files(photo_files[10:11]) == photo_files[10:11]
    assert grid.paths() == photo_files[:10]


def test_dropping_one_file_on_a_filled_slot_replaces_it(grid: SlotGrid, photo_files) -> None:
    grid.add_files(photo_files[:3])
    assert drop_files(grid.slot(1), [photo_files[5]])
    assert grid.paths() == [photo_files[0], photo_files[5], photo_files[2]]


def test_the_same_file_is_not_added_twice(qtbot, grid: SlotGrid, photo_files) -> None:
    grid.add_files(photo_files[:2])
    with qtbot.waitSignal(grid.message) as msg:
        grid.add_files([photo_files[0]])
    assert "photo01.png is already added" in msg.args[0]
    assert grid.paths() == photo_files[:2]


def test_text_drops_are_refused(grid: SlotGrid) -> None:
    md = QMimeData()
    md.setText("just words")
    assert not send_drop(grid.slot(0), md)
    assert grid.paths() == []


def test_internal_drag_moves_a_slot(qtbot, grid: SlotGrid, photo_files) -> None:
    grid.add_files(photo_files[:4])
    md = grid.slot(3).drag_mime_data()
    assert md is not None and md.hasFormat(SLOT_MIME)
    with qtbot.waitSignal(grid.changed):
        assert send_drop(grid.slot(0), md, Qt.DropAction.MoveAction)
    assert grid.paths() == [photo_files[3], photo_files[0], photo_files[1], photo_files[2]]


def test_internal_drag_onto_an_empty_slot_moves_to_the_end(grid: SlotGrid, photo_files) -> None:
    grid.add_files(photo_files[:3])
    md = grid.slot(0).drag_mime_data()
    assert send_drop(grid.slot(8), md, Qt.DropAction.MoveAction)
    assert grid.paths() == [photo_files[1], photo_files[2], photo_files[0]]


def test_empty_slot_has_nothing_to_drag(grid: SlotGrid) -> None:
    assert grid.slot(0).drag_mime_data() is None


def test_slot_drag_from_another_grid_is_refused(
    qtbot, grid: SlotGrid, tmp_path, worker, photo_files
) -> None:
    other = SlotGrid(tmp_path / "other", worker)
    qtbot.addWidget(other)
    other.add_files(photo_files[:2])
    grid.add_files(photo_files[2:4])
    md = other.slot(1).drag_mime_data()
    assert not send_drop(grid.slot(0), md, Qt.DropAction.MoveAction)
    assert grid.paths() == photo_files[2:4]


def test_forged_slot_payload_is_ignored(grid: SlotGrid, photo_files) -> None:
    grid.add_files(photo_files[:2])
    md = QMimeData()
    md.setData(SLOT_MIME, QByteArray(b"nonsense"))
    assert not send_drop(grid.slot(0), md, Qt.DropAction.MoveAction)
    assert grid.paths() == photo_files[:2]


def test_clearing_a_middle_slot_compacts(qtbot, grid: SlotGrid, photo_files) -> None:
    grid.add_files(photo_files[:4])
    qtbot.mouseClick(grid.slot(1)._clear_button, Qt.MouseButton.LeftButton)
    assert grid.paths() == [photo_files[0], photo_files[2], photo_files[3]]
    assert grid.slot(1).path() == photo_files[2]
    assert grid.slot(3).path() is None
    assert not grid.slot(3)._clear_button.isVisible()


def test_delete_key_clears_the_focused_slot(qtbot, grid: SlotGrid, photo_files) -> None:
    grid.add_files(photo_files[:3])
    grid.slot(0).setFocus()
    qtbot.keyClick(grid.slot(0), Qt.Key.Key_Delete)
    assert grid.paths() == photo_files[1:3]


def test_context_menu_offers_replace_clear_and_move_first(
    grid: SlotGrid, photo_files, chooser: Chooser
) -> None:
    grid.add_files(photo_files[:3])
    menu = grid.slot(2).context_menu()
    actions = {a.text(): a for a in menu.actions() if a.text()}
    assert {"Replace…", "Clear", "Move to first"} <= set(actions)
    actions["Move to first"].trigger()
    assert grid.paths() == [photo_files[2], photo_files[0], photo_files[1]]

    chooser.answer = [photo_files[7]]
    actions = {a.text(): a for a in grid.slot(1).context_menu().actions() if a.text()}
    actions["Replace…"].trigger()
    assert chooser.calls == [False]  # replacing takes one file
    assert grid.paths() == [photo_files[2], photo_files[7], photo_files[1]]

    actions = {a.text(): a for a in grid.slot(0).context_menu().actions() if a.text()}
    assert not actions["Move to first"].isEnabled()
    actions["Clear"].trigger()
    assert grid.paths() == [photo_files[7], photo_files[1]]


def test_click_and_keyboard_open_the_chooser(
    qtbot, grid: SlotGrid, photo_files, chooser: Chooser
) -> None:
    chooser.answer = photo_files[:3]
    qtbot.mouseClick(grid.slot(0), Qt.MouseButton.LeftButton)
    assert chooser.calls == [True]  # an empty slot takes several files
    assert grid.paths() == photo_files[:3]
    grid.slot(4).setFocus()
    chooser.answer = []  # the user cancelled
    qtbot.keyClick(grid.slot(4), Qt.Key.Key_Space)
    qtbot.keyClick(grid.slot(4), Qt.Key.Key_Return)
    assert chooser.calls == [True, True, True]
    assert grid.paths() == photo_files[:3]


def test_arrow_keys_move_focus_between_slots(qtbot, grid: SlotGrid) -> None:
    grid.activateWindow()
    grid.slot(1).setFocus()
    qtbot.waitUntil(grid.slot(1).hasFocus)
    qtbot.keyClick(grid.slot(1), Qt.Key.Key_Down)
    assert grid.slot(6).hasFocus()
    qtbot.keyClick(grid.slot(6), Qt.Key.Key_Left)
    assert grid.slot(5).hasFocus()


def test_pasting_image_data_saves_a_png(qtbot, grid: SlotGrid, tmp_path: Path) -> None:
    image = QImage(320, 200, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.darkCyan)
    QApplication.clipboard().setImage(image)
    grid.slot(0).setFocus()
    with qtbot.waitSignal(grid.info_ready, timeout=10_000):
        qtbot.keyClick(grid.slot(0), Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    [path] = grid.paths()
    assert path.parent == tmp_path / "pasted" and path.suffix == ".png"
    saved = QImage(str(path))
    assert saved.size() == image.size()
    info = grid.slot_info(0)
    assert info is not None and (info.width, info.height) == (320, 200)


def test_pasting_file_urls_adds_the_files(qtbot, grid: SlotGrid, photo_files) -> None:
    md = QMimeData()
    md.setUrls([QUrl.fromLocalFile(str(p)) for p in photo_files[:2]])
    QApplication.clipboard().setMimeData(md)
    grid.paste()
    assert grid.paths() == photo_files[:2]


def test_pasting_nothing_useful_says_so(qtbot, grid: SlotGrid) -> None:
    QApplication.clipboard().setText("hello")
    with qtbot.waitSignal(grid.message) as msg:
        grid.paste(0)
    assert "no image" in msg.args[0]
    assert grid.paths() == []


def test_a_corrupt_file_stays_and_shows_why(qtbot, grid: SlotGrid, corrupt_file, photo_files):
    grid.add_files([photo_files[0], corrupt_file])
    wait_loaded(qtbot, grid)
    assert grid.paths() == [photo_files[0], corrupt_file]
    problems = grid.problems()
    assert list(problems) == [1]
    assert "broken.jpg" in problems[1]  # the full sentence names the file
    slot = grid.slot(1)
    assert slot.problem_text()
    assert slot.problem_text() in slot.toolTip() or "broken.jpg" in slot.toolTip()
    assert grid.slot_info(1) is None
    grid.remove(1)
    assert grid.problems() == {}


def test_camera_sized_jpeg_gets_a_small_thumbnail(qtbot, grid: SlotGrid, big_jpeg: Path):
    with qtbot.waitSignal(grid.info_ready, timeout=15_000):
        grid.add_files([big_jpeg])
    assert grid.slot(0).caption_lines()[0] == "6000×4000"
    assert "JPEG" in grid.slot(0).caption_lines()[1]
    image = grid.slot(0).entry().load.image
    assert max(image.width(), image.height()) == round(THUMB_SIDE * grid.devicePixelRatioF())


def test_thumbnail_is_made_for_high_dpi(qapp, photo_files) -> None:
    load = load_slot_file(photo_files[1], THUMB_SIDE * 2, 2.0)
    assert load.image is not None
    assert load.image.devicePixelRatio() == 2.0
    assert max(load.image.width(), load.image.height()) == THUMB_SIDE * 2
    assert load.info is not None and load.problem == ""


def test_a_slot_cleared_while_loading_gets_no_late_result(
    qtbot, grid: SlotGrid, big_jpeg, photo_files
) -> None:
    arrived: list[int] = []
    grid.info_ready.connect(arrived.append)
    grid.add_files([big_jpeg])
    grid.clear_all()
    grid.add_files([photo_files[0]])
    wait_loaded(qtbot, grid)
    qtbot.waitUntil(lambda: grid._worker.pending == 0, timeout=15_000)
    assert arrived == [0]
    assert grid.slot_info(0).width == 512  # the astronaut, not the 6000×4000 photo


def test_set_paths_and_clear_all(qtbot, grid: SlotGrid, photo_files) -> None:
    grid.set_paths(photo_files[:3])
    assert grid.paths() == photo_files[:3]
    grid.set_paths(photo_files[5:7])
    assert grid.paths() == photo_files[5:7]
    with qtbot.waitSignal(grid.changed):
        grid.clear_all()
    assert grid.paths() == []
    assert all(s.path() is None for s in grid.slots)


def test_drag_starts_only_after_moving(qtbot, grid: SlotGrid, photo_files, monkeypatch) -> None:
    grid.add_files(photo_files[:2])
    started: list[int] = []
    slot = grid.slot(1)
    monkeypatch.setattr(slot, "_start_drag", lambda: started.append(1))
    qtbot.mousePress(slot, Qt.MouseButton.LeftButton, pos=QPoint(20, 20))
    qtbot.mouseMove(slot, QPoint(60, 60))
    qtbot.mouseRelease(slot, Qt.MouseButton.LeftButton, pos=QPoint(60, 60))
    assert started == [1]


def test_human_size() -> None:
    assert human_size(512) == "512 B"
    assert human_size(8_800_000) == "8.4 MB"
    assert human_size(250 * 1024) == "250 KB"
