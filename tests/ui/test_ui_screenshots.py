"""Widgets with realistic content, grabbed to /tmp/rhdesk-shots for a human (or a model) to look
at, in a light and a dark palette. The asserts only check the grabs are real pictures."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageEnhance, ImageFilter
from PySide6.QtGui import QImage, QPalette
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from rhdesk.ui.compare import CompareView
from rhdesk.ui.prompt_edit import PromptEdit
from rhdesk.ui.workers import pil_to_qimage

SHARED = Path(__file__).resolve().parents[3] / "shared" / "testdata"


def themed(widget: QWidget, palette: QPalette | None) -> None:
    if palette is not None:
        widget.setPalette(palette)
        widget.setAutoFillBackground(True)


def save(widget: QWidget, shots: Path, name: str) -> Path:
    path = shots / f"{name}.png"
    image = widget.grab().toImage()
    assert not image.isNull() and image.width() > 100
    # A blank grab is a single colour; a real screenshot has many.
    sample = {
        image.pixel(x, y) for x in range(0, image.width(), 13) for y in range(0, image.height(), 13)
    }
    assert len(sample) > 3
    assert image.save(str(path))
    return path


def edited(path: Path, factor: int = 4) -> QImage:
    """A stand-in for a model result: bigger, regraded, a little stylised."""
    im = Image.open(path).convert("RGB")
    im = im.resize((im.width * factor, im.height * factor), Image.Resampling.LANCZOS)
    im = ImageEnhance.Color(im).enhance(0.35)
    im = ImageEnhance.Contrast(im).enhance(1.3).filter(ImageFilter.DETAIL)
    return pil_to_qimage(im)


@pytest.fixture(params=["light", "dark"])
def palette(request, dark) -> QPalette | None:
    return dark if request.param == "dark" else None


def test_slot_grid_screenshot(
    qtbot, tmp_path, worker, photo_files, corrupt_file, big_jpeg, shots, palette, request
) -> None:
    pytest.importorskip("rhdesk.core.prepare", reason="core image inspection not written yet")
    pytest.importorskip("rhdesk.core.imageops", reason="core image ops not written yet")
    from rhdesk.ui.slots import SlotGrid

    grid = SlotGrid(tmp_path / "pasted", worker)
    themed(grid, palette)
    qtbot.addWidget(grid)
    grid.add_files(
        [photo_files[0], photo_files[1], big_jpeg, corrupt_file, photo_files[2], photo_files[3]]
    )
    grid.show()
    qtbot.waitUntil(lambda: not grid.is_loading(), timeout=15_000)
    grid.slot(1).setFocus()
    save(grid, shots, f"slots-{request.node.callspec.id}")


def test_prompt_screenshot(qtbot, shots, palette, request) -> None:
    holder = QWidget()
    themed(holder, palette)
    qtbot.addWidget(holder)
    layout = QVBoxLayout(holder)
    ok = PromptEdit()
    ok.set_text(
        "Replace the grey sky in image 1 with a warm sunset, keep the astronaut and the flag "
        "unchanged, and match the lighting on the suit to the new sky."
    )
    ok.set_recent(["Make it snow", "Remove the background"])
    short = PromptEdit()
    short.set_text("sky")
    long = PromptEdit()
    long.set_limits(5, 120)
    long.set_text("A very detailed instruction that goes on and on. " * 3)
    empty = PromptEdit()
    for w in (ok, short, long, empty):
        w.setFixedHeight(120)
        layout.addWidget(w)
    holder.resize(520, 560)
    holder.show()
    save(holder, shots, f"prompt-{request.node.callspec.id}")


@pytest.mark.parametrize("mode", ["split", "side", "empty", "zoomed"])
def test_compare_screenshot(qtbot, worker, shots, palette, mode, request) -> None:
    chelsea = SHARED / "chelsea.png"
    if not chelsea.exists():
        pytest.skip("shared test photos missing")
    holder = QWidget()
    themed(holder, palette)
    qtbot.addWidget(holder)
    view = CompareView(worker, holder)
    QHBoxLayout(holder).addWidget(view)
    holder.resize(900, 640)
    holder.show()
    qtbot.waitExposed(holder)
    if mode != "empty":
        view.set_before(QImage(str(chelsea)))
        results = [
            edited(chelsea),
            edited(SHARED / "coffee.png"),
            edited(SHARED / "astronaut.png", 2),
        ]
        view.set_results(results)
        qtbot.waitUntil(lambda: not view.strip.item(2).icon().isNull())
    if mode == "side":
        view.side_action.trigger()
    if mode == "zoomed":
        view.canvas.set_split(0.62)
        view.actual_action.trigger()
    view.canvas.grab()  # first paint asks the worker for the scaled pixmap
    qtbot.waitUntil(lambda: worker.pending == 0)
    save(holder, shots, f"compare-{mode}-{request.node.callspec.id.split('-')[0]}")
