from __future__ import annotations

import asyncio
import threading

import pytest
from PIL import Image
from PySide6.QtGui import QColor, QImage

from rhdesk.ui.workers import ImageWorker, pil_to_qimage


def test_result_arrives_on_the_gui_thread(qtbot, worker: ImageWorker) -> None:
    got: list[tuple[int, bool]] = []

    def work(x: int) -> tuple[int, str]:
        return x * 2, threading.current_thread().name

    worker.submit(
        work,
        21,
        on_done=lambda r: got.append((r[0], threading.current_thread() is threading.main_thread())),
    )
    qtbot.waitUntil(lambda: bool(got))
    assert got == [(42, True)]


def test_work_runs_off_the_gui_thread(qtbot, worker: ImageWorker) -> None:
    names: list[str] = []
    worker.submit(lambda: threading.current_thread().name, on_done=names.append)
    qtbot.waitUntil(lambda: bool(names))
    assert names[0].startswith("rhdesk-image")


def test_errors_go_to_on_error(qtbot, worker: ImageWorker) -> None:
    errors: list[BaseException] = []

    def boom() -> None:
        raise ValueError("bad pixels")

    worker.submit(
        boom, on_done=lambda _r: pytest.fail("no result expected"), on_error=errors.append
    )
    qtbot.waitUntil(lambda: bool(errors))
    assert isinstance(errors[0], ValueError)
    assert str(errors[0]) == "bad pixels"


def test_a_newer_job_for_the_same_key_wins(qtbot, worker: ImageWorker) -> None:
    release_old = threading.Event()
    got: list[str] = []

    def slow() -> str:
        release_old.wait(5)
        return "old"

    worker.submit(slow, on_done=got.append, key="slot0")
    worker.submit(lambda: "new", on_done=got.append, key="slot0")
    qtbot.waitUntil(lambda: got == ["new"])
    release_old.set()
    qtbot.waitUntil(lambda: worker.pending == 0)
    assert got == ["new"]  # the stale "old" never overwrote the newer content


def test_invalidate_drops_a_running_job(qtbot, worker: ImageWorker) -> None:
    release = threading.Event()
    got: list[str] = []
    worker.submit(lambda: release.wait(5) and "thumb", on_done=got.append, key=("slot", 3))
    worker.invalidate(("slot", 3))
    release.set()
    qtbot.waitUntil(lambda: worker.pending == 0)
    assert got == []


def test_jobs_without_key_are_independent(qtbot, worker: ImageWorker) -> None:
    got: list[int] = []
    for i in range(5):
        worker.submit(lambda i=i: i, on_done=got.append)
    qtbot.waitUntil(lambda: len(got) == 5)
    assert sorted(got) == [0, 1, 2, 3, 4]


def test_delivery_inside_a_running_qasync_loop(qapp, worker: ImageWorker) -> None:
    import qasync

    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    try:

        async def main() -> int:
            fut: asyncio.Future[int] = loop.create_future()
            worker.submit(lambda: 7, on_done=fut.set_result)
            return await asyncio.wait_for(fut, 5)

        assert loop.run_until_complete(main()) == 7
    finally:
        loop.close()
        asyncio.set_event_loop(None)


@pytest.mark.parametrize(
    ("mode", "color", "expected"),
    [
        ("RGB", (200, 30, 40), QColor(200, 30, 40)),
        ("RGBA", (10, 220, 30, 128), QColor(10, 220, 30, 128)),
        ("L", 77, QColor(77, 77, 77)),
        ("I;16", 256 * 100, None),  # 16-bit grey from PNGs: must convert, not crash
    ],
)
def test_pil_to_qimage_keeps_pixels(qapp, mode: str, color, expected) -> None:
    im = Image.new(mode, (7, 5), color)
    q = pil_to_qimage(im)
    assert (q.width(), q.height()) == (7, 5)
    if expected is not None:
        assert q.pixelColor(3, 2) == expected
    del im  # the QImage owns its pixels: it must survive the PIL image
    assert not q.isNull() and q.pixelColor(6, 4).isValid()


def test_pil_to_qimage_palette_with_transparency_keeps_alpha(qapp) -> None:
    im = Image.new("P", (4, 4), 0)
    im.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    im.info["transparency"] = 0
    q = pil_to_qimage(im)
    assert q.hasAlphaChannel()
    assert q.pixelColor(0, 0).alpha() == 0


def test_qimage_made_in_a_worker_is_usable(qtbot, worker: ImageWorker) -> None:
    got: list[QImage] = []
    worker.submit(lambda: pil_to_qimage(Image.new("RGB", (64, 32), "blue")), on_done=got.append)
    qtbot.waitUntil(lambda: bool(got))
    assert got[0].size().toTuple() == (64, 32)
    assert got[0].pixelColor(10, 10) == QColor(0, 0, 255)


def test_results_for_a_deleted_owner_are_dropped(qtbot, worker: ImageWorker) -> None:
    import shiboken6
    from PySide6.QtCore import QObject

    owner = QObject()
    release = threading.Event()
    got: list[str] = []
    worker.submit(lambda: release.wait(5) and "late", on_done=got.append, owner=owner)
    shiboken6.delete(owner)
    release.set()
    qtbot.waitUntil(lambda: worker.pending == 0)
    assert got == []
