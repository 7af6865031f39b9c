"""The window's side of a batch: a BatchRunner re-emitted as Qt signals, and a table model of its
photos that redraws at most a few times a second (a 500-photo batch sends many events)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, QTimer, Signal

from rhdesk.jobs import batch as B
from rhdesk.store.db import BatchItemRecord, Store

REFRESH_MS = 200

_STATE_LABELS = {
    B.PENDING: "Waiting",
    B.ACTIVE: "Working",
    B.DONE: "Done",
    B.FAILED: "Failed",
    B.CANCELLED: "Cancelled",
    B.UNKNOWN: "Outcome unknown",
    B.GAVE_UP: "Stopped checking",
    B.UNUSABLE: "Cannot be used",
    B.SKIPPED: "Skipped (exists)",
}


class BatchSession(QObject):
    """One batch being shown (and perhaps run) in the window."""

    changed = Signal()  # counts, ETA or item rows may have changed (coalesced)
    finished = Signal(object)  # BatchProgress, when run() returned with nothing left to do
    paused = Signal(str)  # why (balance, user, stopped)
    message = Signal(str)

    def __init__(self, store: Store, runner: Any, batch_id: str, ops: Any, parent=None) -> None:
        super().__init__(parent)
        self.store = store
        self.ops = ops
        self.batch_id = batch_id
        self.runner = B.BatchRunner(store, runner, batch_id)
        self.runner.subscribe(self._on_update)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.changed.emit)
        self._stopped = False

    @property
    def settings(self) -> B.BatchSettings:
        return self.runner.settings

    @property
    def out_root(self) -> Path:
        return self.settings.out_root

    @property
    def running(self) -> bool:
        return self.runner.running

    def progress(self) -> B.BatchProgress:
        if self.runner.running:
            return self.runner.progress()
        return B.batch_progress(self.store, self.batch_id)

    def start(self) -> None:
        if self.runner.running:
            self.runner.resume()
            return
        self.runner.resume()
        task = self.ops.start(self.runner.run(), title="The batch stopped", on_done=self._done)
        task.add_done_callback(self._run_ended)

    def _run_ended(self, task) -> None:  # noqa: ANN001 - asyncio.Task
        if task.cancelled():
            # The app is shutting down (its store closes next): no more redraws from here.
            self._stopped = True
            self._timer.stop()

    def pause(self) -> None:
        self.runner.pause()

    def cancel_pending(self) -> None:
        self.ops.start(self.runner.cancel_pending(), title="Could not cancel",
                       on_done=lambda n: self.message.emit(f"Cancelled {n} photo(s)."))  # fmt: skip

    def cancel_item(self, item_id: int) -> None:
        self.ops.start(self.runner.cancel_item(item_id), title="Could not cancel",
                       on_done=self.message.emit)  # fmt: skip

    def retry_failed(self) -> int:
        n = self.runner.retry_failed()
        if n and not self.runner.running:
            self.start()
        return n

    def retry_item(self, item_id: int) -> bool:
        ok = self.runner.retry_item(item_id)
        if ok and not self.runner.running:
            self.start()
        return ok

    def move(self, item_id: int, delta: int) -> bool:
        return self.runner.move(item_id, delta)

    def _done(self, progress: B.BatchProgress) -> None:
        self.changed.emit()
        if progress.finished:
            self.finished.emit(progress)
        else:
            self.paused.emit(progress.message)

    def _on_update(self, update: B.BatchUpdate) -> None:
        if not self._stopped and not self._timer.isActive():
            self._timer.start()


class BatchItemsModel(QAbstractTableModel):
    COLUMNS = ("Photo", "Size", "State", "Details")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._items: list[BatchItemRecord] = []
        self._session: BatchSession | None = None

    def set_session(self, session: BatchSession | None) -> None:
        self._session = session
        self.reload()

    def reload(self) -> None:
        items = self._session.store.batch_items(self._session.batch_id) if self._session else []
        if [i.id for i in items] != [i.id for i in self._items]:
            self.beginResetModel()
            self._items = items
            self.endResetModel()
            return
        self._items = items
        if items:
            last = self.index(len(items) - 1, len(self.COLUMNS) - 1)
            self.dataChanged.emit(self.index(0, 0), last)

    def item(self, row: int) -> BatchItemRecord | None:
        return self._items[row] if 0 <= row < len(self._items) else None

    def row_of(self, item_id: int) -> int:
        for row, i in enumerate(self._items):
            if i.id == item_id:
                return row
        return -1

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.tr(self.COLUMNS[section])
        return None

    def data(self, index: QModelIndex, role: int = 0) -> Any:
        item = self.item(index.row())
        if item is None:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return item.rel_path
            if col == 1:
                return f"{item.width}×{item.height}" if item.width else ""
            if col == 2:
                return self.tr(_STATE_LABELS.get(item.state, item.state))
            if col == 3:
                return self._detail(item)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._detail(item) or item.source_path
        if role == Qt.ItemDataRole.UserRole:
            return item.id
        return None

    def _detail(self, item: BatchItemRecord) -> str:
        if self._session is not None and item.state in (B.ACTIVE, B.DONE):
            text = self._session.runner.details.get(item.id)
            if text:
                return text
        return item.error or ""
