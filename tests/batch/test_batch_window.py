"""The batch window with the real controller in demo mode: check a folder, start, wait for the
results on screen and on disk."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

import asyncio  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton  # noqa: E402

from tests.batch.conftest import PROMPT, Shoot  # noqa: E402

TIMEOUT_MS = 60_000  # demo mode: 1 s queued + 3 s running per task, three at a time


@pytest.fixture
def main_window(qtbot, qloop_running, tmp_path):
    from rhdesk.app import build_main_window

    window = build_main_window(["--demo", "--data-dir", str(tmp_path / "data")])
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()
    shutdown = asyncio.ensure_future(window.controller.shutdown())
    qtbot.waitUntil(shutdown.done, timeout=15_000)


def drop(widget, paths: list[Path]) -> bool:
    widget = widget.viewport() if hasattr(widget, "viewport") else widget  # where drops land
    md = QMimeData()  # kept in a local: the events only borrow it
    md.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    args = (Qt.DropAction.CopyAction, md, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    try:
        enter = QDragEnterEvent(pos, *args)
    except TypeError:
        enter = QDragEnterEvent(pos.toPoint(), *args)
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    event = QDropEvent(pos, *args)
    QApplication.sendEvent(widget, event)
    return event.isAccepted()


def find_box(name: str) -> QMessageBox | None:
    for w in QApplication.topLevelWidgets():
        if isinstance(w, QMessageBox) and w.objectName() == name and w.isVisible():
            return w
    return None


def test_check_start_and_finish_on_screen(qtbot, main_window, shoot: Shoot, tmp_path):
    main_window.findChild(QAction, "batchAction").trigger()
    bw = main_window.batch_window
    qtbot.waitExposed(bw)
    assert drop(bw.sources, [shoot.root])
    assert bw.sources.paths() == [shoot.root]
    bw.prompt.setPlainText(PROMPT)
    bw.model_box.setCurrentIndex(bw.model_box.findData("seedream-v4"))
    picker = bw.size_picker.preset
    assert picker.itemText(picker.findData("match")) == "Follow each photo"
    picker.setCurrentIndex(picker.findData("1:1@1K"))
    out = tmp_path / "out"
    bw.out_edit.setText(str(out))
    assert bw.example.text() == "e.g. IMG_0042_edit1.png"
    assert not bw.start_button.isEnabled()  # nothing checked yet

    qtbot.mouseClick(bw.check_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(bw.start_button.isEnabled, timeout=TIMEOUT_MS)
    summary = bw.check_summary.text()
    assert "4 photo(s) ready, 2 cannot be used" in summary and "balance" in summary
    problems = [bw.check_list.item(i).text() for i in range(bw.check_list.count())]
    assert len(problems) == 2 and any("readme.jpg" in p and "text" in p for p in problems)

    qtbot.mouseClick(bw.start_button, Qt.MouseButton.LeftButton)
    assert bw.tabs.currentIndex() == 1
    session = bw.session
    qtbot.waitUntil(lambda: session.progress().done == 4 and not session.running,
                    timeout=TIMEOUT_MS)  # fmt: skip
    qtbot.waitUntil(lambda: "4/4 · 4 done" in bw.summary.text(), timeout=5_000)
    assert bw.items_model.rowCount() == 6
    states = {
        bw.items_model.index(r, 0).data(): bw.items_model.index(r, 2).data()
        for r in range(bw.items_model.rowCount())
    }
    assert states["day2/coffee.jpg"] == "Done" and states["readme.jpg"] == "Cannot be used"
    for rel in shoot.good:
        p = Path(rel)
        assert (out / p.parent / f"{p.stem}_edit1.png").exists()
    assert (out / "batch-report.csv").exists()
    assert bw.last_notification[0] == "Batch finished"

    # The same again: the results exist now, so the window asks once what to do.
    qtbot.mouseClick(bw.check_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(bw.start_button.isEnabled, timeout=TIMEOUT_MS)
    assert "4 result(s) already exist" in bw.check_summary.text()
    bw.tabs.setCurrentIndex(0)
    qtbot.mouseClick(bw.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: find_box("conflictBox") is not None, timeout=5_000)
    box = find_box("conflictBox")
    qtbot.mouseClick(box.findChild(QPushButton, "skipButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: find_box("batchWarning") is not None, timeout=5_000)
    assert "No photo can be sent" in find_box("batchWarning").text()
    find_box("batchWarning").accept()

    bw.tabs.setCurrentIndex(2)
    assert bw.batch_list.count() == 1 and "finished" in bw.batch_list.item(0).text()
