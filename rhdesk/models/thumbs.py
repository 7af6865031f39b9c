"""Thumbnails for lists, made off the GUI thread and kept in a small in-memory LRU cache."""

from __future__ import annotations

from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage


def _load(path: str, side: int) -> QImage:
    from PIL import Image

    from rhdesk.core.imageops import thumbnail

    img = thumbnail(Path(path), side)
    if img.mode not in ("RGB", "RGBA"):
        img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
    if img.mode == "RGB":
        img = img.convert("RGBA")
    data = img.tobytes("raw", "RGBA")
    qimg = QImage(data, img.width, img.height, img.width * 4, QImage.Format.Format_RGBA8888)
    del Image
    return qimg.copy()  # own the pixels: `data` dies with this frame


class ThumbnailCache(QObject):
    ready = Signal(str)  # path whose thumbnail just arrived
    _done = Signal(str, int, object)

    def __init__(self, side: int = 96, capacity: int = 400, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.side = side
        self.capacity = capacity
        self._cache: OrderedDict[tuple[str, int], QImage | None] = OrderedDict()
        self._pending: set[tuple[str, int]] = set()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="rhdesk-thumb")
        self._done.connect(self._store)

    def get(self, path: str | Path, side: int | None = None) -> QImage | None:
        key = (str(path), side or self.side)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        if key not in self._pending:
            self._pending.add(key)
            self._pool.submit(self._work, key)
        return None

    def _work(self, key: tuple[str, int]) -> None:
        try:
            img: QImage | None = _load(*key)
        except Exception:
            img = None  # unreadable: remembered as None so it is not retried on every paint
        self._done.emit(key[0], key[1], img)

    def _store(self, path: str, side: int, img: object) -> None:
        key = (path, side)
        self._pending.discard(key)
        self._cache[key] = img if isinstance(img, QImage) else None
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        self.ready.emit(path)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
