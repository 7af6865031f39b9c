"""Blocking image work (Pillow decode, thumbnails, big QImage scaling) off the GUI thread.

Results come back through a queued Qt signal, so delivery happens on the GUI thread inside
whatever event loop drives Qt: a plain ``QApplication.exec()``, a qasync loop, or pytest-qt's
``waitSignal``. No asyncio is involved, which is why it works with or without qasync.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import shiboken6
from PIL import Image
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QImage

log = logging.getLogger(__name__)

WORKER_THREADS = 2  # decoding is memory-bound; more threads mostly add peak RAM on 24-MP photos

DoneCallback = Callable[[Any], None]
ErrorCallback = Callable[[BaseException], None]


def pil_to_qimage(im: Image.Image) -> QImage:
    """A QImage that owns its pixels (safe to hand across threads and to outlive ``im``)."""
    if im.mode not in ("RGB", "RGBA"):
        has_alpha = im.mode in ("LA", "PA", "La", "RGBa") or (
            im.mode == "P" and "transparency" in im.info
        )
        im = im.convert("RGBA" if has_alpha else "RGB")
    fmt = QImage.Format.Format_RGBA8888 if im.mode == "RGBA" else QImage.Format.Format_RGB888
    data = im.tobytes()
    channels = 4 if im.mode == "RGBA" else 3
    # QImage only borrows `data`; copy() detaches it before the bytes object goes away.
    return QImage(data, im.width, im.height, im.width * channels, fmt).copy()


@dataclass
class _Job:
    key: Hashable | None
    generation: int
    on_done: DoneCallback | None
    on_error: ErrorCallback | None
    owner: QObject | None


class ImageWorker(QObject):
    """A two-thread pool whose results are delivered on the GUI thread.

    ``key`` ties a job to something that can change (an image slot, a zoom level): submitting a
    new job with the same key, or calling :meth:`invalidate`, makes the older job's result stale,
    and stale results are dropped instead of overwriting newer content.
    """

    # (job, result, error) - emitted from a pool thread, received on this object's thread.
    _finished = Signal(object, object, object)

    def __init__(self, parent: QObject | None = None, threads: int = WORKER_THREADS) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="rhdesk-image")
        self._generations: dict[Hashable, int] = {}
        self._counter = itertools.count(1)
        self._pending = 0
        self._closed = False
        self._finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        pool = self._pool  # not `self`: the lambda must not keep the Python wrapper alive
        self.destroyed.connect(lambda *_: pool.shutdown(wait=False, cancel_futures=True))

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_done: DoneCallback | None = None,
        on_error: ErrorCallback | None = None,
        key: Hashable | None = None,
        owner: QObject | None = None,
    ) -> int:
        """Run ``fn(*args)`` in the pool; returns the job's generation number.

        Call from the GUI thread. ``owner`` is the QObject the callbacks belong to (needed for
        lambdas): if it has been deleted by the time the result arrives, the result is dropped.
        """
        if self._closed:
            raise RuntimeError("ImageWorker is shut down")
        generation = next(self._counter)
        if key is not None:
            self._generations[key] = generation
        job = _Job(key, generation, on_done, on_error, owner)
        self._pending += 1
        future = self._pool.submit(fn, *args)
        future.add_done_callback(lambda f: self._emit(job, f))
        return generation

    def invalidate(self, key: Hashable) -> None:
        """Drop the result of any job still running for ``key``."""
        self._generations[key] = next(self._counter)

    def is_current(self, key: Hashable, generation: int) -> bool:
        return self._generations.get(key) == generation

    @property
    def pending(self) -> int:
        return self._pending

    def shutdown(self, wait: bool = True) -> None:
        self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def _emit(self, job: _Job, future: Future) -> None:
        # Runs on a pool thread. The QObject may already be gone when the app quits.
        if future.cancelled() or not shiboken6.isValid(self):
            return
        error = future.exception()
        self._finished.emit(job, None if error else future.result(), error)

    def _deliver(self, job: _Job, result: Any, error: BaseException | None) -> None:
        self._pending -= 1
        if job.key is not None and self._generations.get(job.key) != job.generation:
            return
        callback: Callable[[Any], None] | None = job.on_error if error else job.on_done
        if callback is None:
            if error is not None:
                log.error("image job failed", exc_info=error)
            return
        owner = job.owner if job.owner is not None else getattr(callback, "__self__", None)
        # A widget closed while its thumbnail was decoding: nothing left to show it on.
        if isinstance(owner, QObject) and not shiboken6.isValid(owner):
            return
        callback(error if error is not None else result)
