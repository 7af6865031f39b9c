"""Thumbnails for lists, made off the GUI thread and kept in a small in-memory LRU cache.

With a disk folder, each thumbnail is made once (a small WebP in `ThumbDiskCache`) and read back
on later starts; the worker thread turns it into a QImage, the GUI thread only draws it. Requests
are served newest first and old ones dropped, so fast scrolling through thousands of rows never
queues work for rows long gone from the screen.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from rhdesk.store.thumbcache import ThumbDiskCache

MAX_WAITING = 256  # requests beyond this are forgotten (re-asked when the row is painted again)


def _load(path: str, side: int, disk: ThumbDiskCache | None = None) -> QImage:
    if disk is not None:
        thumb = disk.get(Path(path), side)
        img = QImage(str(thumb))
        if not img.isNull():
            return img
    from rhdesk.core.imageops import thumbnail

    pil = thumbnail(Path(path), side)
    if pil.mode != "RGBA":
        pil = pil.convert("RGBA")
    data = pil.tobytes("raw", "RGBA")
    qimg = QImage(data, pil.width, pil.height, pil.width * 4, QImage.Format.Format_RGBA8888)
    return qimg.copy()  # own the pixels: `data` dies with this frame


def _prune_quietly(disk: ThumbDiskCache) -> None:
    with contextlib.suppress(OSError):
        disk.prune()


class ThumbnailCache(QObject):
    ready = Signal(str)  # path whose thumbnail just arrived
    _done = Signal(str, int, object)

    def __init__(
        self,
        side: int = 96,
        capacity: int = 400,
        parent: QObject | None = None,
        *,
        disk_folder: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.side = side
        self.capacity = capacity
        self.disk = ThumbDiskCache(disk_folder) if disk_folder is not None else None
        self._cache: OrderedDict[tuple[str, int], QImage | None] = OrderedDict()
        self._pending: set[tuple[str, int]] = set()
        self._waiting: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="rhdesk-thumb")
        self._done.connect(self._store)
        self.made = 0  # thumbnails delivered (for tests and the benchmark)
        if self.disk is not None:
            # keep the disk cache within its budget: once per start, in the background
            self._pool.submit(_prune_quietly, self.disk)

    def get(self, path: str | Path, side: int | None = None) -> QImage | None:
        key = (str(path), side or self.side)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        if key not in self._pending:
            self._pending.add(key)
            with self._lock:
                self._waiting[key] = None
                while len(self._waiting) > MAX_WAITING:
                    old, _ = self._waiting.popitem(last=False)
                    self._pending.discard(old)
            with contextlib.suppress(RuntimeError):  # shut down
                self._pool.submit(self._work)
        return None

    def _work(self) -> None:
        with self._lock:
            if not self._waiting:
                return
            key, _ = self._waiting.popitem(last=True)  # the row painted last is on screen now
        try:
            img: QImage | None = _load(key[0], key[1], self.disk)
        except Exception:
            img = None  # unreadable: remembered as None so it is not retried on every paint
        with contextlib.suppress(RuntimeError):  # the cache died with its window
            self._done.emit(key[0], key[1], img)

    def _store(self, path: str, side: int, img: object) -> None:
        key = (path, side)
        self._pending.discard(key)
        self._cache[key] = img if isinstance(img, QImage) else None
        self.made += 1
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        self.ready.emit(path)

    def __len__(self) -> int:
        return len(self._cache)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
