"""The list of tasks (history and running), newest first, kept live by pipeline events."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, Qt

from rhdesk.jobs.events import TaskEvent
from rhdesk.store import db as S
from rhdesk.store.db import Store, TaskRecord

STATUS_LABELS = {
    S.PENDING: "Waiting",
    S.PREPARING: "Preparing",
    S.UPLOADING: "Uploading",
    S.SUBMITTING: "Sending",
    S.QUEUED: "Queued",
    S.RUNNING: "Running",
    S.DOWNLOADING: "Downloading",
    S.SUCCEEDED: "Done",
    S.FAILED: "Failed",
    S.CANCELLED: "Cancelled",
    S.UNKNOWN: "Outcome unknown",
    S.GAVE_UP: "Still running remotely?",
}


@dataclass
class TaskRow:
    id: int
    created_at: float
    prompt: str
    model_label: str
    endpoint: str
    width: int
    height: int
    status: str
    message: str = ""
    error: str | None = None
    remote_id: str | None = None
    inputs: list[Path] = field(default_factory=list)
    results: list[Path] = field(default_factory=list)
    progress: float | None = None  # 0..1 while uploading
    submitted_at: float | None = None
    finished_at: float | None = None
    cost_money: float | None = None
    cost_coins: float | None = None
    demo: bool = False
    note: str = ""  # what the user was told about this task (e.g. after Stop), kept on the row

    @property
    def active(self) -> bool:
        return self.status in S.ACTIVE_STATES

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    def stage_text(self, now: float | None = None) -> str:
        now = now or time.time()
        if self.status == S.UPLOADING and self.progress is not None:
            return f"{self.message or 'Uploading'} · {self.progress:.0%}"
        if self.status in (S.QUEUED, S.RUNNING) and self.submitted_at:
            return f"{self.status_label} · {_elapsed(now - self.submitted_at)}"
        if self.status in (S.FAILED, S.UNKNOWN, S.GAVE_UP) and self.error:
            return self.error
        if self.status == S.SUCCEEDED:
            # the pipeline's last message ("Saved 1 result") says less than a plain "Done"
            return self.status_label
        return self.message or self.status_label

    def summary(self, now: float | None = None) -> str:
        """Status and stage in one line, as a screen reader or a tooltip would say it."""
        stage = self.stage_text(now)
        if stage.startswith(self.status_label):
            return stage
        return f"{self.status_label}: {stage}"

    @classmethod
    def from_record(cls, rec: TaskRecord, demo_base: str | None = None) -> TaskRow:
        return cls(
            id=rec.id,
            created_at=rec.created_at,
            prompt=rec.prompt,
            model_label=rec.spec.model.display_name,
            endpoint=rec.endpoint,
            width=rec.width,
            height=rec.height,
            status=rec.status,
            error=rec.error_message,
            remote_id=rec.remote_id,
            inputs=[Path(i.local_path or i.source_path) for i in rec.inputs],
            results=rec.result_paths,
            submitted_at=rec.submitted_at,
            finished_at=rec.finished_at,
            cost_money=rec.cost_money,
            cost_coins=rec.cost_coins,
            demo=bool(demo_base and rec.base_url == demo_base),
        )


def _elapsed(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


RowRole = Qt.ItemDataRole.UserRole + 1
IdRole = Qt.ItemDataRole.UserRole + 2


class TaskListModel(QAbstractListModel):
    def __init__(self, store: Store, parent: QObject | None = None, limit: int = 500) -> None:
        super().__init__(parent)
        self._store = store
        self._rows: list[TaskRow] = []
        self._limit = limit
        self.demo_base: str | None = None
        self.reload()

    def reload(self) -> None:
        self.beginResetModel()
        self._rows = [
            TaskRow.from_record(r, self.demo_base) for r in self._store.list(limit=self._limit)
        ]
        self.endResetModel()

    # -- Qt model ---------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return row.prompt
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [row.prompt, f"{row.model_label} · {row.width}×{row.height}", row.summary()]
            if row.note and row.note not in lines[-1]:
                lines.append(row.note)
            if row.results:
                lines.append(str(row.results[0].parent))
            return "\n".join(lines)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{row.summary()} — {row.prompt}"
        if role == RowRole:
            return row
        if role == IdRole:
            return row.id
        return None

    # -- access -----------------------------------------------------------------------------
    def row_for(self, task_id: int) -> int:
        for i, r in enumerate(self._rows):
            if r.id == task_id:
                return i
        return -1

    def task(self, task_id: int) -> TaskRow | None:
        i = self.row_for(task_id)
        return self._rows[i] if i >= 0 else None

    def rows(self) -> list[TaskRow]:
        return list(self._rows)

    def active_rows(self) -> list[TaskRow]:
        return [r for r in self._rows if r.active]

    def set_note(self, task_id: int, note: str) -> None:
        i = self.row_for(task_id)
        if i >= 0:
            self._rows[i].note = note
            idx = self.index(i)
            self.dataChanged.emit(idx, idx)

    # -- live updates -----------------------------------------------------------------------
    def apply_event(self, ev: TaskEvent) -> None:
        i = self.row_for(ev.task_id)
        if i < 0:
            try:
                rec = self._store.get(ev.task_id)
            except Exception:
                return
            self.beginInsertRows(QModelIndex(), 0, 0)
            self._rows.insert(0, TaskRow.from_record(rec, self.demo_base))
            self.endInsertRows()
            i = 0
        row = self._rows[i]
        changed = replace(row, status=ev.status, message=ev.message or row.message)
        if ev.upload_fraction is not None:
            changed.progress = ev.upload_fraction
        if ev.remote_id:
            changed.remote_id = ev.remote_id
        if ev.error is not None:
            changed.error = ev.error
        if ev.results:
            changed.results = list(ev.results)
        if ev.final or ev.status != row.status:
            # the database has the authoritative picture (costs, timestamps, results)
            try:
                rec = self._store.get(ev.task_id)
                fresh = TaskRow.from_record(rec, self.demo_base)
                fresh.message = changed.message
                fresh.note = row.note
                fresh.progress = changed.progress if ev.status == S.UPLOADING else None
                changed = fresh
            except Exception:
                pass
        self._rows[i] = changed
        idx = self.index(i)
        self.dataChanged.emit(idx, idx)

    def refresh_times(self) -> None:
        """Running rows show elapsed time: repaint them (called by a 1 s timer)."""
        for i, r in enumerate(self._rows):
            if r.status in (S.QUEUED, S.RUNNING):
                idx = self.index(i)
                self.dataChanged.emit(idx, idx)
