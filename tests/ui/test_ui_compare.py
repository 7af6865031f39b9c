from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage, QWheelEvent
from PySide6.QtWidgets import QApplication

from rhdesk.ui.compare import CompareView, Mode


def solid(w: int, h: int, color: str) -> QImage:
    image = QImage(w, h, QImage.Format.Format_RGB32)
    image.fill(QColor(color))
    return image


@pytest.fixture
def view(qtbot, worker) -> CompareView:
    v = CompareView(worker)
    qtbot.addWidget(v)
    v.resize(900, 640)
    v.show()
    qtbot.waitExposed(v)
    return v


@pytest.fixture
def loaded(view: CompareView) -> CompareView:
    # The usual case: a 512×512 input, a 2048×2048 result.
    view.set_before(solid(512, 512, "#c03020"))
    view.set_results([solid(2048, 2048, "#2050c0")])
    return view


def wheel(widget, pos: QPoint, dy: int, mods=Qt.KeyboardModifier.ControlModifier) -> None:
    ev = QWheelEvent(
        QPointF(pos),
        QPointF(widget.mapToGlobal(pos)),
        QPoint(),
        QPoint(0, dy),
        Qt.MouseButton.NoButton,
        mods,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, ev)


def test_names(view: CompareView) -> None:
    assert view.objectName() == "compareView"
    assert view.accessibleName() == "Before and after"
    assert view.canvas.objectName() == "compareCanvas"
    assert view.strip.objectName() == "resultsStrip"
    for action in (
        view.fit_action,
        view.actual_action,
        view.side_action,
        view.save_action,
        view.copy_action,
        view.folder_action,
    ):
        assert action.objectName() and action.toolTip()
        button = view.toolbar.widgetForAction(action)
        assert button.objectName() and button.accessibleName()
        assert button.focusPolicy() & Qt.FocusPolicy.TabFocus
    assert "Ctrl+0" in view.fit_action.toolTip()
    assert view.save_action.shortcut().toString() == "Ctrl+Shift+S"


def test_empty_state(view: CompareView) -> None:
    assert not view.canvas.has_content()
    assert not view.copy_action.isEnabled() and not view.save_action.isEnabled()
    assert not view.fit_action.isEnabled()
    assert not view.strip.isVisible()
    image = view.canvas.grab().toImage()
    assert not image.isNull()  # paints its message without an image


def test_before_is_mapped_onto_the_after_geometry(loaded: CompareView) -> None:
    canvas = loaded.canvas
    assert canvas.reference_size().toTuple() == (2048, 2048)
    vp = canvas.viewports()[0]
    fit = canvas.scale()
    assert fit == pytest.approx(min(vp.width(), vp.height()) / 2048)
    rect = canvas.image_rect(vp)
    assert rect.width() == pytest.approx(rect.height())
    assert rect.center().x() == pytest.approx(vp.center().x())
    # Both halves of the split are painted into that one rectangle.
    shot = canvas.grab().toImage()
    y = int(rect.center().y())
    left = shot.pixelColor(int(rect.left() + 5), y)
    right = shot.pixelColor(int(rect.right() - 5), y)
    assert left.red() > 150 and left.blue() < 80  # before (red) on the left of the divider
    assert right.blue() > 150 and right.red() < 80  # after (blue) on the right


def test_fit_and_actual_size_change_the_scale(loaded: CompareView) -> None:
    canvas = loaded.canvas
    fit = canvas.scale()
    assert canvas.is_fit() and fit < 0.5
    loaded.actual_action.trigger()
    assert not canvas.is_fit()
    assert canvas.device_scale() == pytest.approx(1.0)  # 1 image px = 1 device px
    assert loaded.zoom_label.text() == "100 %"
    assert not loaded.fit_action.isChecked()
    loaded.fit_action.trigger()
    assert canvas.is_fit() and canvas.scale() == pytest.approx(fit)
    assert loaded.fit_action.isChecked()


def test_shortcuts_work_when_the_view_has_focus(qtbot, loaded: CompareView) -> None:
    loaded.activateWindow()
    loaded.canvas.setFocus()
    qtbot.waitUntil(loaded.canvas.hasFocus)
    qtbot.keyClick(loaded.canvas, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert loaded.canvas.device_scale() == pytest.approx(1.0)
    qtbot.keyClick(loaded.canvas, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert loaded.canvas.is_fit()


def test_split_follows_a_mouse_drag(qtbot, loaded: CompareView) -> None:
    canvas = loaded.canvas
    assert canvas.mode() is Mode.SPLIT and canvas.split() == 0.5
    y = canvas.height() // 2
    w = canvas.width()
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(w // 2, y))
    qtbot.mouseMove(canvas, QPoint(w // 4, y))
    assert canvas.split() == pytest.approx(0.25, abs=0.01)
    qtbot.mouseMove(canvas, QPoint(w * 3 // 4, y + 30))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(w * 3 // 4, y + 30))
    assert canvas.split() == pytest.approx(0.75, abs=0.01)
    assert canvas.split_x() == pytest.approx(w * 3 // 4, abs=1)
    # Moving without a button no longer drags.
    qtbot.mouseMove(canvas, QPoint(10, y))
    assert canvas.split() == pytest.approx(0.75, abs=0.01)


def test_arrow_keys_move_the_divider_by_five_percent(qtbot, loaded: CompareView) -> None:
    canvas = loaded.canvas
    with qtbot.waitSignal(canvas.split_changed) as sig:
        qtbot.keyClick(canvas, Qt.Key.Key_Right)
    assert sig.args[0] == pytest.approx(0.55)
    qtbot.keyClick(canvas, Qt.Key.Key_Left)
    qtbot.keyClick(canvas, Qt.Key.Key_Left)
    assert canvas.split() == pytest.approx(0.45)
    for _ in range(30):
        qtbot.keyClick(canvas, Qt.Key.Key_Left)
    assert canvas.split() == 0.0


def test_ctrl_wheel_zooms_around_the_cursor(loaded: CompareView) -> None:
    canvas = loaded.canvas
    vp = canvas.viewports()[0]
    cursor = QPoint(int(vp.center().x() + 120), int(vp.center().y() - 80))

    def image_point_under(pos: QPoint) -> QPointF:
        rect = canvas.image_rect(vp)
        s = canvas.scale()
        return QPointF((pos.x() - rect.left()) / s, (pos.y() - rect.top()) / s)

    before = image_point_under(cursor)
    fit = canvas.scale()
    # Far enough in that the image overflows both ways (smaller ones stay centred).
    wheel(canvas, cursor, 720)
    assert canvas.scale() == pytest.approx(fit * 1.25**6)
    after = image_point_under(cursor)
    assert after.x() == pytest.approx(before.x(), abs=0.5)
    assert after.y() == pytest.approx(before.y(), abs=0.5)
    wheel(canvas, cursor, -120)
    assert canvas.scale() == pytest.approx(fit * 1.25**5)
    centre = canvas.center()
    wheel(canvas, cursor, -120, Qt.KeyboardModifier.NoModifier)  # plain wheel pans, not zooms
    assert canvas.scale() == pytest.approx(fit * 1.25**5)
    assert canvas.center().y() > centre.y()


def test_plus_and_minus_keys_zoom(qtbot, loaded: CompareView) -> None:
    canvas = loaded.canvas
    fit = canvas.scale()
    qtbot.keyClick(canvas, Qt.Key.Key_Plus)
    assert canvas.scale() == pytest.approx(fit * 1.25)
    qtbot.keyClick(canvas, Qt.Key.Key_Minus)
    qtbot.keyClick(canvas, Qt.Key.Key_Minus)
    assert canvas.scale() == pytest.approx(fit / 1.25)


def test_middle_drag_pans_when_zoomed_in(qtbot, loaded: CompareView) -> None:
    canvas = loaded.canvas
    loaded.actual_action.trigger()
    start = canvas.center()
    c = QPoint(canvas.width() // 2, canvas.height() // 2)
    qtbot.mousePress(canvas, Qt.MouseButton.MiddleButton, pos=c)
    qtbot.mouseMove(canvas, c + QPoint(100, 40))
    qtbot.mouseRelease(canvas, Qt.MouseButton.MiddleButton, pos=c + QPoint(100, 40))
    assert canvas.center().x() == pytest.approx(start.x() - 100)
    assert canvas.center().y() == pytest.approx(start.y() - 40)
    assert canvas.split() == 0.5  # panning is not a divider drag


def test_pan_stops_at_the_image_edge(loaded: CompareView) -> None:
    canvas = loaded.canvas
    loaded.actual_action.trigger()
    canvas.pan_by(10_000, 10_000)
    vp = canvas.viewports()[0]
    rect = canvas.image_rect(vp)
    assert rect.left() == pytest.approx(vp.left()) and rect.top() == pytest.approx(vp.top())


def test_side_by_side_shows_two_viewports(qtbot, loaded: CompareView) -> None:
    canvas = loaded.canvas
    split_fit = canvas.scale()
    loaded.side_action.trigger()
    assert canvas.mode() is Mode.SIDE_BY_SIDE
    left, right = canvas.viewports()
    assert left.width() == pytest.approx(right.width()) and left.right() < right.left()
    assert canvas.scale() < split_fit  # each image now fits half the width
    shot = canvas.grab().toImage()
    lr, rr = canvas.image_rect(left), canvas.image_rect(right)
    assert shot.pixelColor(int(lr.center().x()), int(lr.center().y())).red() > 150
    assert shot.pixelColor(int(rr.center().x()), int(rr.center().y())).blue() > 150
    # Plain drag pans here once zoomed in (no divider in this mode).
    loaded.actual_action.trigger()
    start = canvas.center()
    c = QPoint(int(lr.center().x()), canvas.height() // 2)
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=c)
    qtbot.mouseMove(canvas, c + QPoint(-50, 0))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=c + QPoint(-50, 0))
    assert canvas.center().x() == pytest.approx(start.x() + 50)
    loaded.side_action.trigger()
    assert canvas.mode() is Mode.SPLIT


def test_results_strip_picks_the_after_image(qtbot, view: CompareView) -> None:
    results = [solid(256, 256, c) for c in ("#ff0000", "#00ff00", "#0000ff")]
    view.set_before(solid(128, 128, "#808080"))
    view.set_results(results)
    assert view.strip.isVisible() and view.strip.count() == 3
    assert view.current_result() == 0
    assert view.canvas.image("after").pixelColor(5, 5) == QColor("#ff0000")
    qtbot.waitUntil(lambda: not view.strip.item(2).icon().isNull())
    rect = view.strip.visualItemRect(view.strip.item(2))
    with qtbot.waitSignal(view.current_result_changed) as sig:
        qtbot.mouseClick(view.strip.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert sig.args == [2]
    assert view.current_result() == 2
    assert view.canvas.image("after").pixelColor(5, 5) == QColor("#0000ff")


def test_one_result_hides_the_strip(view: CompareView) -> None:
    view.set_results([solid(64, 64, "white")])
    assert not view.strip.isVisible()
    assert view.canvas.has_content()


def test_results_given_as_files_load_off_the_gui_thread(
    qtbot, view: CompareView, tmp_path: Path
) -> None:
    paths = []
    for i, color in enumerate(("#ff0000", "#00ff00")):
        p = tmp_path / f"result-{i}.png"
        assert solid(300, 200, color).save(str(p))
        paths.append(p)
    view.set_results(paths)
    qtbot.waitUntil(lambda: view.current_image() is not None)
    assert view.current_image().size().toTuple() == (300, 200)
    assert view.result_paths() == paths


def test_result_mime_data_carries_the_file_url(view: CompareView, tmp_path: Path) -> None:
    view.set_results([solid(64, 64, "red"), solid(64, 64, "blue")])
    assert view.result_mime_data(0) is None  # no file yet
    files = [tmp_path / "a.png", tmp_path / "b.png"]
    view.set_result_paths(files)
    md = view.result_mime_data(1)
    assert md is not None
    assert [u.toLocalFile() for u in md.urls()] == [str(files[1].resolve())]
    assert view.result_mime_data(5) is None


def test_copy_puts_the_result_on_the_clipboard(qtbot, loaded: CompareView) -> None:
    QApplication.clipboard().clear()
    loaded.copy_action.trigger()
    image = QApplication.clipboard().image()
    assert image.size().toTuple() == (2048, 2048)
    assert image.pixelColor(10, 10) == QColor("#2050c0")


def test_save_and_open_folder_are_requests_for_the_owner(qtbot, view: CompareView) -> None:
    view.set_results([solid(64, 64, "red"), solid(64, 64, "blue")])
    view.set_current(1)
    with qtbot.waitSignal(view.save_requested) as sig:
        view.save_action.trigger()
    assert sig.args == [1]
    with qtbot.waitSignal(view.open_folder_requested):
        view.folder_action.trigger()


def test_scaled_pixmap_is_cached_for_the_zoom(qtbot, loaded: CompareView) -> None:
    canvas = loaded.canvas
    canvas.grab()
    qtbot.waitUntil(
        lambda: canvas._scaled["after"] is not None and canvas._scaled["after"].pixmap is not None
    )
    cached = canvas._scaled["after"].pixmap
    rect = canvas.image_rect(canvas.viewports()[0])
    assert cached.width() == round(rect.width() * canvas.devicePixelRatioF())
    canvas.grab()
    assert canvas._scaled["after"].pixmap is cached  # repainting reuses it


def test_before_from_a_camera_file_is_shrunk_while_decoding(
    qtbot, view: CompareView, big_jpeg: Path
) -> None:
    view.set_before(big_jpeg)
    qtbot.waitUntil(lambda: view.canvas.image("before") is not None, timeout=10_000)
    size = view.canvas.image("before").size()
    assert size.width() == 4096 and size.height() in (2730, 2731)


def test_alt_drag_on_the_result_asks_to_drag_it_out(qtbot, loaded: CompareView) -> None:
    canvas = loaded.canvas
    # QDrag.exec needs a real platform drag; the canvas only announces it, tested here.
    canvas.drag_out.disconnect(loaded._drag_current_out)
    c = QPoint(canvas.width() // 2 + 100, canvas.height() // 2)
    with qtbot.waitSignal(canvas.drag_out, timeout=1000):
        qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.AltModifier, c)
        qtbot.mouseMove(canvas, c + QPoint(30, 0))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=c + QPoint(30, 0))
    assert canvas.split() == 0.5  # an Alt-drag is not a divider drag
