"""The list of tasks (history and running), newest first, kept live by pipeline events.

Built for big histories: the model holds only the ids that match the current filter (one cheap
query) and reads full rows page by page, as the view asks for them, into a bounded LRU cache.
Searching runs the id query on a worker thread; only the newest answer is applied.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, Qt, Signal

from rhdesk.i18n.core import _
from rhdesk.jobs.events import TaskEvent
from rhdesk.store import db as S
from rhdesk.store.db import Store, TaskRecord

log = logging.getLogger("rhdesk.tasks")


def status_label(status: str) -> str:
    """A state in plain words, in the current language (looked up each time: the language can
    change while the window is open)."""
    labels = {
        S.PENDING: _("Waiting"),
        S.PREPARING: _("Preparing"),
        S.UPLOADING: _("Uploading"),
        S.SUBMITTING: _("Sending"),
        S.QUEUED: _("Queued"),
        S.RUNNING: _("Running"),
        S.DOWNLOADING: _("Downloading"),
        S.SUCCEEDED: _("Done"),
        S.FAILED: _("Failed"),
        S.CANCELLED: _("Cancelled"),
        S.UNKNOWN: _("Outcome unknown"),
        S.GAVE_UP: _("Still running remotely?"),
    }
    return labels.get(status, status)


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
    starred: bool = False
    user_note: str = ""  # the user's own note (searchable)
    expired: int = 0  # results whose link expired before they were downloaded

    @property
    def active(self) -> bool:
        return self.status in S.ACTIVE_STATES

    @property
    def status_label(self) -> str:
        return status_label(self.status)

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
            starred=rec.starred,
            user_note=rec.note,
            expired=sum(1 for r in rec.results if r.state == S.RESULT_EXPIRED),
        )


def _elapsed(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


RowRole = Qt.ItemDataRole.UserRole + 1
IdRole = Qt.ItemDataRole.UserRole + 2

PAGE = 100  # rows read per store query while scrolling (a screen shows ~10)
CACHE_ROWS = 2_000  # full rows kept in memory; the id list itself holds every match


@dataclass(frozen=True)
class HistoryFilter:
    """What the history shows. Empty fields filter nothing."""

    search: str = ""
    statuses: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    since: float | None = None
    until: float | None = None
    starred: bool = False

    @property
    def empty(self) -> bool:
        return self == HistoryFilter()

    def store_kwargs(self) -> dict[str, Any]:
        return {
            "search": self.search.strip() or None,
            "statuses": list(self.statuses) or None,
            "families": list(self.families) or None,
            "since": self.since,
            "until": self.until,
            "starred": True if self.starred else None,
        }


class TaskListModel(QAbstractListModel):
    filter_applied = Signal(object)  # the HistoryFilter now shown
    exported = Signal(object)  # list[Path] written by export()
    export_failed = Signal(str)
    _ids_ready = Signal(int, object, object)  # generation, filter, ids (from the worker thread)
    _export_done = Signal(object, str)

    def __init__(
        self,
        store: Store,
        parent: QObject | None = None,
        limit: int | None = None,  # kept for callers of the old signature; nothing is cut off
        *,
        cache_rows: int = CACHE_ROWS,
        page: int = PAGE,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._ids: list[int] = []
        self._pos: dict[int, int] | None = {}  # id -> row; None: rebuild on next use
        self._cache: OrderedDict[int, TaskRow] = OrderedDict()
        self._cache_rows = max(cache_rows, page)
        self._page = page
        # Rows that change without the store knowing (upload progress, the pipeline's message,
        # what Stop said) and every active task: never evicted, so nothing live is lost.
        self._live: dict[int, TaskRow] = {}
        self._told: dict[int, str] = {}  # task id -> what the user was told (TaskRow.note)
        self._excluded: dict[int, str] = {}  # filtered-out task -> status when last checked
        self.filter = HistoryFilter()
        self.demo_base: str | None = None
        self._generation = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rhdesk-history")
        self._pool_lock = threading.Lock()
        self._ids_ready.connect(self._apply_ids)
        self._export_done.connect(self._on_export_done)
        self.reload()

    # -- loading ----------------------------------------------------------------------------
    def reload(self) -> None:
        """Read the id list again (synchronously) and forget every cached row."""
        self._generation += 1  # a search still running would now be stale
        ids = self._store.list_ids(**self.filter.store_kwargs())
        self._reset(ids)
        self._load_active()
        self.filter_applied.emit(self.filter)

    def set_filter(self, flt: HistoryFilter) -> None:
        """Apply a filter now, on this thread (tests, start-up); the panel uses request_filter."""
        self.filter = flt
        self.reload()

    def request_filter(self, flt: HistoryFilter) -> int:
        """Query the ids off the GUI thread; the answer is applied unless a newer request came
        in meanwhile (typing fast must not show the results of an old keystroke). Returns the
        request's generation."""
        self._generation += 1
        gen = self._generation
        kwargs = flt.store_kwargs()

        def work() -> None:
            try:
                ids: object = self._store.list_ids(**kwargs)
            except Exception as exc:  # a closed store at shutdown, a malformed query
                log.warning("history query failed: %s", exc)
                ids = None
            with contextlib.suppress(RuntimeError):  # the model died meanwhile
                self._ids_ready.emit(gen, flt, ids)

        with self._pool_lock:
            self._pool.submit(work)
        return gen

    def _apply_ids(self, gen: int, flt: HistoryFilter, ids: object) -> None:
        if gen != self._generation or not isinstance(ids, list):
            return
        self.filter = flt
        self._reset(ids)
        self.filter_applied.emit(flt)

    def _reset(self, ids: list[int]) -> None:
        self.beginResetModel()
        self._ids = list(ids)
        self._pos = None
        self._cache.clear()
        self._excluded.clear()
        self.endResetModel()

    def _load_active(self) -> None:
        # Active tasks are few; they are kept whatever the filter (the window counts them).
        active = self._store.list_ids(statuses=sorted(S.ACTIVE_STATES))
        keep = {i: r for i, r in self._live.items() if r.active}
        fresh = self._store.get_many([i for i in active if i not in keep])
        self._live = keep
        for task_id, rec in fresh.items():
            self._live[task_id] = self._make_row(rec)

    def _make_row(self, rec: TaskRecord) -> TaskRow:
        row = TaskRow.from_record(rec, self.demo_base)
        row.note = self._told.get(rec.id, "")
        return row

    def _fetch_page(self, i: int) -> None:
        start = max(0, i - i % self._page)
        want = [t for t in self._ids[start : start + self._page] if t not in self._cache]
        if self._ids[i] not in want:
            want.append(self._ids[i])
        for task_id, rec in self._store.get_many(want).items():
            self._cache[task_id] = self._make_row(rec)
        while len(self._cache) > self._cache_rows:
            self._cache.popitem(last=False)

    def _row_at(self, i: int) -> TaskRow | None:
        task_id = self._ids[i]
        live = self._live.get(task_id)
        if live is not None:
            return live
        row = self._cache.get(task_id)
        if row is None:
            self._fetch_page(i)
            row = self._cache.get(task_id)
            if row is None:  # deleted behind our back (the command line, another window)
                return None
        else:
            self._cache.move_to_end(task_id)
        return row

    @property
    def cached_rows(self) -> int:
        """Full rows held in memory right now (the LRU cache plus live rows)."""
        return len(self._cache) + len(self._live)

    # -- Qt model ---------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._ids)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._ids):
            return None
        if role == IdRole:
            return self._ids[index.row()]
        if role not in (
            Qt.ItemDataRole.DisplayRole,
            Qt.ItemDataRole.ToolTipRole,
            Qt.ItemDataRole.AccessibleTextRole,
            RowRole,
        ):
            return None
        row = self._row_at(index.row())
        if row is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return row.prompt
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [row.prompt, f"{row.model_label} · {row.width}×{row.height}", row.summary()]
            if row.note and row.note not in lines[-1]:
                lines.append(row.note)
            if row.user_note:
                lines.append("✎ " + row.user_note)
            if row.results:
                lines.append(str(row.results[0].parent))
            return "\n".join(lines)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            star = "★ " if row.starred else ""
            return f"{star}{row.summary()} — {row.prompt}"
        return row

    # -- access -----------------------------------------------------------------------------
    def row_for(self, task_id: int) -> int:
        if self._pos is None:
            self._pos = {t: i for i, t in enumerate(self._ids)}
        return self._pos.get(task_id, -1)

    def task(self, task_id: int) -> TaskRow | None:
        i = self.row_for(task_id)
        if i >= 0:
            return self._row_at(i)
        return self._live.get(task_id)

    def total(self) -> int:
        """Tasks in the whole history, whatever the filter."""
        try:
            return self._store.count()
        except Exception:  # closed at shutdown
            return len(self._ids)

    def ids(self) -> list[int]:
        return list(self._ids)

    def rows(self) -> list[TaskRow]:
        """Every row of the current filter (reads them all: for tests and small histories)."""
        out = []
        for i in range(len(self._ids)):
            row = self._row_at(i)
            if row is not None:
                out.append(row)
        return out

    def active_rows(self) -> list[TaskRow]:
        """Tasks still in progress, whatever the filter, newest first."""
        rows = [r for r in self._live.values() if r.active]
        return sorted(rows, key=lambda r: (r.created_at, r.id), reverse=True)

    def record(self, task_id: int) -> TaskRecord | None:
        """The full stored record of a task (for the detail pane), or None if it is gone."""
        try:
            return self._store.get(task_id)
        except S.StoreError:
            return None

    def details_json(self, task_id: int) -> str:
        from rhdesk.store.export import task_details

        rec = self._store.get(task_id)
        return json.dumps(task_details(rec), ensure_ascii=False, indent=2)

    def set_note(self, task_id: int, note: str) -> None:
        """What the user was told about a task (not stored: a message, e.g. after Stop)."""
        self._told[task_id] = note
        for row in (self._live.get(task_id), self._cache.get(task_id)):
            if row is not None:
                row.note = note
        self._changed(task_id)

    def _changed(self, task_id: int) -> None:
        i = self.row_for(task_id)
        if i >= 0:
            idx = self.index(i)
            self.dataChanged.emit(idx, idx)

    def refresh_task(self, task_id: int) -> None:
        """Read one task again from the store (after a change made here) and repaint it."""
        try:
            rec = self._store.get(task_id)
        except S.StoreError:
            return
        row = self._make_row(rec)
        old = self._live.get(task_id) or self._cache.get(task_id)
        if old is not None:
            row.message, row.progress = old.message, old.progress
        if task_id in self._live:
            self._live[task_id] = row
        if task_id in self._cache or self.row_for(task_id) >= 0:
            self._cache[task_id] = row
        self._changed(task_id)

    # -- edits the user makes in the history --------------------------------------------------
    def set_starred(self, task_id: int, starred: bool) -> None:
        self._store.set_starred(task_id, starred)
        self.refresh_task(task_id)

    def toggle_star(self, task_id: int) -> bool:
        row = self.task(task_id)
        starred = not (row.starred if row else False)
        self.set_starred(task_id, starred)
        return starred

    def set_user_note(self, task_id: int, note: str) -> None:
        self._store.set_note(task_id, note.strip())
        self.refresh_task(task_id)

    def delete(self, task_ids: Iterable[int], *, delete_files: bool) -> list[Path]:
        """Remove tasks from the history (never active ones); with `delete_files`, also their
        result files and the input copies no remaining task uses. Returns the files deleted."""
        deleted: list[Path] = []
        for task_id in list(task_ids):
            row = self.task(task_id)
            if row is not None and row.active:
                continue
            try:
                files = self._store.delete_task(task_id)
            except S.StoreError:
                continue
            if delete_files:
                # "Run again" reuses the prepared input copies of the task it came from.
                in_use = set(self._store.paths_in_use([str(f) for f in files]))
                for f in files:
                    if str(f) in in_use:
                        continue
                    with contextlib.suppress(OSError):
                        f.unlink()
                        deleted.append(f)
            self._remove_row(task_id)
        return deleted

    def _remove_row(self, task_id: int) -> None:
        self._live.pop(task_id, None)
        self._cache.pop(task_id, None)
        i = self.row_for(task_id)
        if i < 0:
            return
        self.beginRemoveRows(QModelIndex(), i, i)
        del self._ids[i]
        self._pos = None
        self.endRemoveRows()

    def export(self, task_ids: Sequence[int], folder: Path) -> None:
        """Copy results and a JSON sidecar per task to `folder` off the GUI thread; emits
        `exported` (or `export_failed`)."""
        from rhdesk.store.export import export_tasks

        ids = list(task_ids)

        def work() -> None:
            try:
                written: object = export_tasks(self._store, ids, Path(folder))
                error = ""
            except Exception as exc:
                written, error = [], str(exc) or type(exc).__name__
            with contextlib.suppress(RuntimeError):
                self._export_done.emit(written, error)

        with self._pool_lock:
            self._pool.submit(work)

    def _on_export_done(self, written: object, error: str) -> None:
        if error:
            self.export_failed.emit(error)
        else:
            self.exported.emit(written)

    def shutdown(self) -> None:
        with self._pool_lock:
            self._pool.shutdown(wait=False, cancel_futures=True)

    # -- live updates -----------------------------------------------------------------------
    def _matches(self, rec: TaskRecord) -> bool:
        if self.filter.empty:
            return True
        kwargs = self.filter.store_kwargs()
        # Only this task's moment: the query stays cheap however big the history is.
        kwargs["since"] = max(rec.created_at, kwargs["since"] or rec.created_at)
        return rec.id in self._store.list_ids(**kwargs)

    def apply_event(self, ev: TaskEvent) -> None:
        i = self.row_for(ev.task_id)
        row = self._live.get(ev.task_id) or (self._row_at(i) if i >= 0 else None)
        if row is None:
            try:
                rec = self._store.get(ev.task_id)
            except S.StoreError:
                return
            row = self._make_row(rec)
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
                fresh = self._make_row(self._store.get(ev.task_id))
                fresh.message = changed.message
                fresh.progress = changed.progress if ev.status == S.UPLOADING else None
                changed = fresh
            except S.StoreError:
                pass
        if changed.active:
            self._live[ev.task_id] = changed
        else:
            self._live.pop(ev.task_id, None)
        if i < 0:
            self._maybe_insert(changed)
            return
        self._cache[ev.task_id] = changed
        idx = self.index(i)
        self.dataChanged.emit(idx, idx)

    def _maybe_insert(self, row: TaskRow) -> None:
        if self._excluded.get(row.id) == row.status:
            return  # checked already in this state: upload progress must not query each time
        try:
            rec = self._store.get(row.id)
        except S.StoreError:
            return
        if not self._matches(rec):
            self._excluded[row.id] = row.status
            return
        self._excluded.pop(row.id, None)
        # New tasks are the newest; a resumed old one goes where its time puts it among the
        # rows we know (the top, if none is newer).
        at = 0
        for j, other in enumerate(self._ids[:64]):
            known = self._live.get(other) or self._cache.get(other)
            if known is None or (known.created_at, known.id) < (row.created_at, row.id):
                break
            at = j + 1
        self.beginInsertRows(QModelIndex(), at, at)
        self._ids.insert(at, row.id)
        self._pos = None
        self._cache[row.id] = row
        self.endInsertRows()

    def refresh_times(self) -> None:
        """Running rows show elapsed time: repaint them (called by a 1 s timer)."""
        for r in list(self._live.values()):
            if r.status in (S.QUEUED, S.RUNNING):
                self._changed(r.id)
