"""SQLite history of every task: written before anything is sent, updated on every change.

The database is the source of truth for resume: a task row exists before any network call, the
remote task id is stored the moment submit returns, and every state change is appended to
`events`. WAL mode and one transaction per change keep it intact through a crash mid-write.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rhdesk.core.task import TaskSpec

SCHEMA_VERSION = 3

# Local lifecycle of a task. Stored as text so new states need no migration.
PENDING = "pending"  # saved, waiting for its turn
PREPARING = "preparing"
UPLOADING = "uploading"
SUBMITTING = "submitting"  # the submit request may be on the wire
UNKNOWN = "unknown"  # submit outcome unknown: never resubmitted silently
QUEUED = "queued"
RUNNING = "running"
DOWNLOADING = "downloading"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
GAVE_UP = "gave_up"  # stopped polling; still running remotely as far as we know

FINAL_STATES = frozenset({SUCCEEDED, FAILED, CANCELLED})
ACTIVE_STATES = frozenset({PENDING, PREPARING, UPLOADING, SUBMITTING, QUEUED, RUNNING, DOWNLOADING})

# submit_state: has a submit request possibly left this machine?
SUBMIT_NONE = "none"
SUBMIT_SENDING = "sending"
SUBMIT_ACCEPTED = "accepted"
SUBMIT_REFUSED = "refused"

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE tasks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        uid TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        endpoint TEXT NOT NULL,
        prompt TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        max_images INTEGER NOT NULL DEFAULT 1,
        sequential INTEGER NOT NULL DEFAULT 0,
        spec_json TEXT NOT NULL,
        base_url TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,
        submit_state TEXT NOT NULL DEFAULT 'none',
        remote_id TEXT,
        remote_status TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        error_code TEXT,
        error_message TEXT,
        usage_json TEXT,
        cost_money REAL,
        cost_coins REAL,
        submitted_at REAL,
        finished_at REAL,
        batch_id TEXT,
        starred INTEGER NOT NULL DEFAULT 0,
        note TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX tasks_status ON tasks(status);
    CREATE INDEX tasks_created ON tasks(created_at);
    CREATE TABLE task_inputs (
        task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        source_path TEXT NOT NULL,
        local_path TEXT,
        content_type TEXT,
        width INTEGER,
        height INTEGER,
        notes TEXT NOT NULL DEFAULT '',
        uploaded_url TEXT,
        uploaded_at REAL,
        PRIMARY KEY (task_id, idx)
    );
    CREATE TABLE task_results (
        task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        url TEXT NOT NULL,
        output_type TEXT,
        state TEXT NOT NULL DEFAULT 'pending',
        local_path TEXT,
        bytes INTEGER,
        error TEXT,
        PRIMARY KEY (task_id, idx)
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
        at REAL NOT NULL,
        status TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX events_task ON events(task_id);
    """,
    # v2: full-text search over prompts and notes (history search), kept in step by triggers.
    2: """
    CREATE VIRTUAL TABLE tasks_fts USING fts5(
        prompt, note, content='tasks', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
    );
    INSERT INTO tasks_fts(rowid, prompt, note) SELECT id, prompt, note FROM tasks;
    CREATE TRIGGER tasks_fts_insert AFTER INSERT ON tasks BEGIN
        INSERT INTO tasks_fts(rowid, prompt, note) VALUES (new.id, new.prompt, new.note);
    END;
    CREATE TRIGGER tasks_fts_delete AFTER DELETE ON tasks BEGIN
        INSERT INTO tasks_fts(tasks_fts, rowid, prompt, note) VALUES ('delete', old.id, old.prompt, old.note);
    END;
    CREATE TRIGGER tasks_fts_update AFTER UPDATE OF prompt, note ON tasks BEGIN
        INSERT INTO tasks_fts(tasks_fts, rowid, prompt, note) VALUES ('delete', old.id, old.prompt, old.note);
        INSERT INTO tasks_fts(rowid, prompt, note) VALUES (new.id, new.prompt, new.note);
    END;
    CREATE INDEX tasks_endpoint ON tasks(endpoint);
    CREATE INDEX tasks_starred ON tasks(starred) WHERE starred = 1;
    CREATE INDEX tasks_batch ON tasks(batch_id) WHERE batch_id IS NOT NULL;
    """,
    # v3: batches. A task may carry its own output folder and file-name pattern (used instead of
    # the library and its template); batches and their items survive restarts.
    3: """
    ALTER TABLE tasks ADD COLUMN out_dir TEXT;
    ALTER TABLE tasks ADD COLUMN out_name TEXT;
    ALTER TABLE tasks ADD COLUMN out_overwrite INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE batches (
        id TEXT PRIMARY KEY,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        state TEXT NOT NULL,
        settings_json TEXT NOT NULL,
        message TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE batch_items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        batch_id TEXT NOT NULL REFERENCES batches(id) ON DELETE CASCADE,
        position REAL NOT NULL,
        source_path TEXT NOT NULL,
        rel_path TEXT NOT NULL,
        width INTEGER,
        height INTEGER,
        out_dir TEXT,
        out_name TEXT,
        state TEXT NOT NULL,
        task_id INTEGER REFERENCES tasks(id) ON DELETE SET NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        meta_done INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX batch_items_order ON batch_items(batch_id, position);
    CREATE INDEX batch_items_task ON batch_items(task_id) WHERE task_id IS NOT NULL;
    CREATE TABLE batch_item_tasks (
        item_id INTEGER NOT NULL REFERENCES batch_items(id) ON DELETE CASCADE,
        task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
        PRIMARY KEY (item_id, task_id)
    );
    """,
}

RESULT_PENDING = "pending"
RESULT_SAVED = "saved"
RESULT_EXPIRED = "expired"
RESULT_FAILED = "failed"


@dataclass
class InputRecord:
    idx: int
    source_path: str
    local_path: str | None
    content_type: str | None
    width: int | None
    height: int | None
    notes: str
    uploaded_url: str | None
    uploaded_at: float | None


@dataclass
class ResultRecord:
    idx: int
    url: str
    output_type: str | None
    state: str
    local_path: str | None
    bytes: int | None
    error: str | None


@dataclass
class TaskRecord:
    id: int
    uid: str
    created_at: float
    updated_at: float
    endpoint: str
    prompt: str
    width: int
    height: int
    max_images: int
    sequential: bool
    spec: TaskSpec
    base_url: str
    status: str
    submit_state: str
    remote_id: str | None
    remote_status: str | None
    cancel_requested: bool
    error_code: str | None
    error_message: str | None
    usage: dict[str, Any] | None
    cost_money: float | None
    cost_coins: float | None
    submitted_at: float | None
    finished_at: float | None
    batch_id: str | None
    starred: bool
    note: str
    inputs: list[InputRecord] = field(default_factory=list)
    results: list[ResultRecord] = field(default_factory=list)
    out_dir: str | None = None  # its own output folder (batches); None: the library
    out_name: str | None = None  # its own file-name pattern, used with out_dir
    out_overwrite: bool = False

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATES

    @property
    def result_paths(self) -> list[Path]:
        return [
            Path(r.local_path) for r in self.results if r.state == RESULT_SAVED and r.local_path
        ]


BATCH_READY = "ready"  # planned, never started
BATCH_RUNNING = "running"
BATCH_PAUSED = "paused"  # by the user, by a low balance, or by closing the app mid-batch
BATCH_FINISHED = "finished"


@dataclass
class BatchRecord:
    id: str
    created_at: float
    updated_at: float
    state: str
    settings: dict[str, Any]
    message: str


@dataclass
class BatchItemRecord:
    id: int
    batch_id: str
    position: float
    source_path: str
    rel_path: str  # below the chosen folder (mirrored in the output folder)
    width: int | None  # output size of this photo's task
    height: int | None
    out_dir: str | None
    out_name: str | None
    state: str  # see rhdesk.jobs.batch
    task_id: int | None  # the latest task made for it
    attempts: int
    error: str | None
    meta_done: bool


def _batch_record(row: sqlite3.Row) -> BatchRecord:
    return BatchRecord(
        id=row["id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        state=row["state"],
        settings=json.loads(row["settings_json"]),
        message=row["message"],
    )


def _item_record(row: sqlite3.Row) -> BatchItemRecord:
    return BatchItemRecord(
        id=row["id"],
        batch_id=row["batch_id"],
        position=row["position"],
        source_path=row["source_path"],
        rel_path=row["rel_path"],
        width=row["width"],
        height=row["height"],
        out_dir=row["out_dir"],
        out_name=row["out_name"],
        state=row["state"],
        task_id=row["task_id"],
        attempts=row["attempts"],
        error=row["error"],
        meta_done=bool(row["meta_done"]),
    )


class StoreError(Exception):
    pass


class Store:
    """Thread-safe: one connection guarded by a lock (writes are tiny; WAL keeps readers free)."""

    def __init__(self, db_path: Path) -> None:
        self.path = Path(db_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._migrate()

    # -- schema -----------------------------------------------------------------------------
    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        with self._lock:
            current = self.schema_version
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"The history database {self.path} was written by a newer rhdesk "
                    f"(schema {current}); update rhdesk to open it."
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _split_sql(_MIGRATIONS[version]):
                        self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version={version}")
                    self._db.execute("COMMIT")
                except Exception:
                    self._db.execute("ROLLBACK")
                    raise

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writes -----------------------------------------------------------------------------
    def create_task(
        self,
        spec: TaskSpec,
        base_url: str,
        batch_id: str | None = None,
        *,
        out_dir: str | None = None,
        out_name: str | None = None,
        out_overwrite: bool = False,
        batch_item: int | None = None,
    ) -> int:
        """`batch_item`: link the new task to that batch item in the same transaction, so a crash
        can never leave a task the batch does not know about (it would be started twice)."""
        now = time.time()
        with self._tx() as db:
            cur = db.execute(
                """INSERT INTO tasks (uid, created_at, updated_at, endpoint, prompt, width, height,
                   max_images, sequential, spec_json, base_url, status, batch_id,
                   out_dir, out_name, out_overwrite)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                (
                    uuid.uuid4().hex,
                    now,
                    now,
                    spec.endpoint,
                    spec.prompt,
                    spec.width,
                    spec.height,
                    spec.max_images,
                    int(spec.sequential),
                    json.dumps(spec.to_json(), ensure_ascii=False),
                    base_url,
                    PENDING,
                    batch_id,
                    out_dir,
                    out_name,
                    int(out_overwrite),
                ),
            )
            task_id = int(cur.lastrowid)
            if batch_item is not None:
                db.execute(
                    """UPDATE batch_items SET task_id=?, state='active', error=NULL,
                       meta_done=0, attempts=attempts+1 WHERE id=?""",
                    (task_id, batch_item),
                )
                db.execute(
                    "INSERT INTO batch_item_tasks (item_id, task_id) VALUES (?,?)",
                    (batch_item, task_id),
                )
            for i, p in enumerate(spec.inputs):
                db.execute(
                    "INSERT INTO task_inputs (task_id, idx, source_path) VALUES (?,?,?)",
                    (task_id, i, str(p)),
                )
            db.execute(
                "INSERT INTO events (task_id, at, status, detail) VALUES (?,?,?,?)",
                (task_id, now, PENDING, "created"),
            )
        return task_id

    def set_status(self, task_id: int, status: str, detail: str = "", **fields: Any) -> None:
        """Record a state change (and any other task columns) in one transaction."""
        now = time.time()
        fields["status"] = status
        fields["updated_at"] = now
        if status in FINAL_STATES and "finished_at" not in fields:
            fields["finished_at"] = now
        self._update(task_id, fields, event=(status, detail))

    def update(self, task_id: int, **fields: Any) -> None:
        fields["updated_at"] = time.time()
        self._update(task_id, fields, event=None)

    _COLUMNS = frozenset(
        {
            "status", "updated_at", "submit_state", "remote_id", "remote_status",
            "cancel_requested", "error_code", "error_message", "usage_json", "cost_money",
            "cost_coins", "submitted_at", "finished_at", "starred", "note", "base_url",
        }
    )  # fmt: skip

    def _update(self, task_id: int, fields: dict[str, Any], event: tuple[str, str] | None) -> None:
        if "usage" in fields:
            usage = fields.pop("usage")
            fields["usage_json"] = json.dumps(usage) if usage is not None else None
        unknown = set(fields) - self._COLUMNS
        if unknown:
            raise StoreError(f"unknown task fields: {sorted(unknown)}")
        cols = ", ".join(f"{k}=?" for k in fields)
        with self._tx() as db:
            cur = db.execute(f"UPDATE tasks SET {cols} WHERE id=?", (*fields.values(), task_id))
            if cur.rowcount != 1:
                raise StoreError(f"no task {task_id}")
            if event:
                db.execute(
                    "INSERT INTO events (task_id, at, status, detail) VALUES (?,?,?,?)",
                    (task_id, fields["updated_at"], event[0], event[1]),
                )

    def set_input(self, task_id: int, idx: int, **fields: Any) -> None:
        allowed = {
            "local_path",
            "content_type",
            "width",
            "height",
            "notes",
            "uploaded_url",
            "uploaded_at",
        }
        if set(fields) - allowed:
            raise StoreError(f"unknown input fields: {sorted(set(fields) - allowed)}")
        cols = ", ".join(f"{k}=?" for k in fields)
        with self._tx() as db:
            db.execute(
                f"UPDATE task_inputs SET {cols} WHERE task_id=? AND idx=?",
                (*fields.values(), task_id, idx),
            )

    def set_results(self, task_id: int, results: Sequence[tuple[str, str | None]]) -> None:
        """Record the result links the server reported (url, output_type), keeping saved ones."""
        with self._tx() as db:
            for i, (url, output_type) in enumerate(results):
                db.execute(
                    """INSERT INTO task_results (task_id, idx, url, output_type) VALUES (?,?,?,?)
                       ON CONFLICT(task_id, idx) DO UPDATE SET url=excluded.url,
                       output_type=excluded.output_type
                       WHERE task_results.state != 'saved'""",
                    (task_id, i, url, output_type),
                )

    def set_result(self, task_id: int, idx: int, **fields: Any) -> None:
        allowed = {"state", "local_path", "bytes", "error"}
        if set(fields) - allowed:
            raise StoreError(f"unknown result fields: {sorted(set(fields) - allowed)}")
        cols = ", ".join(f"{k}=?" for k in fields)
        with self._tx() as db:
            db.execute(
                f"UPDATE task_results SET {cols} WHERE task_id=? AND idx=?",
                (*fields.values(), task_id, idx),
            )

    def delete_task(self, task_id: int) -> list[Path]:
        """Remove a task from the history; returns its files (results and input copies) so the
        caller can delete them too if the user said so."""
        rec = self.get(task_id)
        files = [Path(r.local_path) for r in rec.results if r.local_path]
        files += [Path(i.local_path) for i in rec.inputs if i.local_path]
        with self._tx() as db:
            db.execute("DELETE FROM tasks WHERE id=?", (task_id,))
        return files

    def paths_in_use(self, paths: Sequence[str]) -> list[str]:
        """Those of `paths` some task still refers to as an input copy or a result ("run again"
        reuses the prepared input copies of the task it repeats)."""
        if not paths:
            return []
        marks = ",".join("?" * len(paths))
        with self._lock:
            rows = self._db.execute(
                f"SELECT local_path FROM task_inputs WHERE local_path IN ({marks}) "
                f"UNION SELECT local_path FROM task_results WHERE local_path IN ({marks})",
                [*paths, *paths],
            ).fetchall()
        return [r[0] for r in rows]

    def set_starred(self, task_id: int, starred: bool) -> None:
        self.update(task_id, starred=int(starred))

    def set_note(self, task_id: int, note: str) -> None:
        self.update(task_id, note=note)

    def get_many(self, ids: Sequence[int]) -> dict[int, TaskRecord]:
        """Several tasks in three queries (not 3 per task): for lists over big histories."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM tasks WHERE id IN ({marks})", list(ids)
            ).fetchall()
            inputs: dict[int, list[InputRecord]] = {}
            for r in self._db.execute(
                f"SELECT * FROM task_inputs WHERE task_id IN ({marks}) ORDER BY task_id, idx",
                list(ids),
            ):
                inputs.setdefault(r["task_id"], []).append(_input(r))
            results: dict[int, list[ResultRecord]] = {}
            for r in self._db.execute(
                f"SELECT * FROM task_results WHERE task_id IN ({marks}) ORDER BY task_id, idx",
                list(ids),
            ):
                results.setdefault(r["task_id"], []).append(_result(r))
        return {
            row["id"]: self._record(row, inputs.get(row["id"], []), results.get(row["id"], []))
            for row in rows
        }

    def relocate_library(self, old: Path, new: Path) -> int:
        """After the results folder moved: point saved results at the new place. Returns rows changed."""
        old_s, new_s = str(Path(old)), str(Path(new))
        with self._tx() as db:
            cur = db.execute(
                "UPDATE task_results SET local_path = ? || substr(local_path, ?) "
                "WHERE local_path LIKE ? ESCAPE '\\'",
                (new_s, len(old_s) + 1, _like_prefix(old_s) + "%"),
            )
            return cur.rowcount

    def integrity_ok(self) -> bool:
        with self._lock:
            return self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # -- reads ------------------------------------------------------------------------------
    def get(self, task_id: int) -> TaskRecord:
        with self._lock:
            row = self._db.execute("SELECT * FROM tasks WHERE id=?", (task_id,)).fetchone()
            if row is None:
                raise StoreError(f"no task {task_id}")
            return self._record(row)

    def list(
        self,
        *,
        limit: int | None = None,
        offset: int = 0,
        statuses: Sequence[str] | None = None,
        search: str | None = None,
        batch_id: str | None = None,
        families: Sequence[str] | None = None,
        since: float | None = None,
        until: float | None = None,
        starred: bool | None = None,
    ) -> list[TaskRecord]:
        sql, args = self._query(
            "SELECT *", statuses, search, batch_id, families, since, until, starred
        )
        sql += " ORDER BY created_at DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            args += [limit, offset]
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
            return [self._record(r) for r in rows]

    def list_ids(self, **filters: Any) -> list[int]:
        """Ids only (cheap, for big histories): same filters as `list`."""
        sql, args = self._query(
            "SELECT id",
            filters.get("statuses"), filters.get("search"), filters.get("batch_id"),
            filters.get("families"), filters.get("since"), filters.get("until"),
            filters.get("starred"),
        )  # fmt: skip
        sql += " ORDER BY created_at DESC, id DESC"
        with self._lock:
            return [r[0] for r in self._db.execute(sql, args)]

    @staticmethod
    def _query(select, statuses, search, batch_id, families, since, until, starred):
        where: list[str] = []
        args: list[Any] = []
        if statuses:
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            args += list(statuses)
        match = fts_query(search or "")
        if match:
            where.append("id IN (SELECT rowid FROM tasks_fts WHERE tasks_fts MATCH ?)")
            args.append(match)
        if batch_id:
            where.append("batch_id=?")
            args.append(batch_id)
        if families:
            where.append("(" + " OR ".join("endpoint LIKE ?" for _ in families) + ")")
            args += [f"{f}/%" for f in families]
        if since is not None:
            where.append("created_at >= ?")
            args.append(since)
        if until is not None:
            where.append("created_at < ?")
            args.append(until)
        if starred is not None:
            where.append("starred = ?")
            args.append(int(starred))
        sql = f"{select} FROM tasks"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return sql, args

    def unfinished(self) -> list[TaskRecord]:
        """Tasks a restart must pick up: anything not final, plus successes with undownloaded results."""
        with self._lock:
            rows = self._db.execute(
                f"""SELECT * FROM tasks WHERE status NOT IN ({",".join("?" * len(FINAL_STATES))})
                    OR (status = ? AND EXISTS (SELECT 1 FROM task_results r
                        WHERE r.task_id = tasks.id AND r.state = 'pending'))
                    ORDER BY created_at, id""",
                (*sorted(FINAL_STATES), SUCCEEDED),
            ).fetchall()
            return [self._record(r) for r in rows]

    def events(self, task_id: int) -> list[tuple[float, str, str]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT at, status, detail FROM events WHERE task_id=? ORDER BY id", (task_id,)
            ).fetchall()
        return [(r["at"], r["status"], r["detail"]) for r in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0])

    # -- batches ----------------------------------------------------------------------------
    def create_batch(
        self, batch_id: str, settings: dict[str, Any], items: Sequence[dict[str, Any]]
    ) -> None:
        """A batch and all its items in one transaction (a crash leaves all or nothing)."""
        now = time.time()
        with self._tx() as db:
            db.execute(
                """INSERT INTO batches (id, created_at, updated_at, state, settings_json)
                   VALUES (?,?,?,?,?)""",
                (batch_id, now, now, BATCH_READY, json.dumps(settings, ensure_ascii=False)),
            )
            for pos, item in enumerate(items):
                db.execute(
                    """INSERT INTO batch_items (batch_id, position, source_path, rel_path, width,
                       height, out_dir, out_name, state, error) VALUES (?,?,?,?,?,?,?,?,?,?)""",
                    (
                        batch_id, float(pos), item["source_path"], item["rel_path"],
                        item.get("width"), item.get("height"), item.get("out_dir"),
                        item.get("out_name"), item["state"], item.get("error"),
                    ),
                )  # fmt: skip

    def get_batch(self, batch_id: str) -> BatchRecord:
        with self._lock:
            row = self._db.execute("SELECT * FROM batches WHERE id=?", (batch_id,)).fetchone()
        if row is None:
            raise StoreError(f"no batch {batch_id}")
        return _batch_record(row)

    def find_batch(self, prefix: str) -> BatchRecord:
        """A batch by its id or an unambiguous start of it (ids are long to type)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM batches WHERE id LIKE ? ESCAPE '\\' ORDER BY created_at",
                (prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",),
            ).fetchall()
        exact = [r for r in rows if r["id"] == prefix]
        if exact or len(rows) == 1:
            return _batch_record((exact or rows)[0])
        if not rows:
            raise StoreError(f"no batch {prefix}")
        raise StoreError(f"{prefix} matches {len(rows)} batches; give more of the id")

    def list_batches(self, limit: int | None = None) -> list[BatchRecord]:
        sql = "SELECT * FROM batches ORDER BY created_at DESC"
        args: list[Any] = []
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        with self._lock:
            return [_batch_record(r) for r in self._db.execute(sql, args).fetchall()]

    def set_batch(
        self, batch_id: str, *, state: str | None = None, message: str | None = None
    ) -> None:
        fields: dict[str, Any] = {"updated_at": time.time()}
        if state is not None:
            fields["state"] = state
        if message is not None:
            fields["message"] = message
        cols = ", ".join(f"{k}=?" for k in fields)
        with self._tx() as db:
            db.execute(f"UPDATE batches SET {cols} WHERE id=?", (*fields.values(), batch_id))

    def delete_batch(self, batch_id: str) -> None:
        """Forget a batch (its tasks stay in the history)."""
        with self._tx() as db:
            db.execute("DELETE FROM batches WHERE id=?", (batch_id,))

    def batch_items(self, batch_id: str) -> list[BatchItemRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM batch_items WHERE batch_id=? ORDER BY position, id", (batch_id,)
            ).fetchall()
        return [_item_record(r) for r in rows]

    def batch_item(self, item_id: int) -> BatchItemRecord:
        with self._lock:
            row = self._db.execute("SELECT * FROM batch_items WHERE id=?", (item_id,)).fetchone()
        if row is None:
            raise StoreError(f"no batch item {item_id}")
        return _item_record(row)

    _ITEM_COLUMNS = frozenset({"position", "state", "task_id", "error", "meta_done"})

    def update_batch_item(self, item_id: int, **fields: Any) -> None:
        unknown = set(fields) - self._ITEM_COLUMNS
        if unknown:
            raise StoreError(f"unknown batch item fields: {sorted(unknown)}")
        cols = ", ".join(f"{k}=?" for k in fields)
        with self._tx() as db:
            db.execute(f"UPDATE batch_items SET {cols} WHERE id=?", (*fields.values(), item_id))

    def swap_batch_items(self, a: int, b: int) -> None:
        """Exchange the queue positions of two items (reordering pending work)."""
        with self._tx() as db:
            pa = db.execute("SELECT position FROM batch_items WHERE id=?", (a,)).fetchone()
            pb = db.execute("SELECT position FROM batch_items WHERE id=?", (b,)).fetchone()
            if pa is None or pb is None:
                raise StoreError("no such batch item")
            db.execute("UPDATE batch_items SET position=? WHERE id=?", (pb[0], a))
            db.execute("UPDATE batch_items SET position=? WHERE id=?", (pa[0], b))

    def batch_item_tasks(self, item_id: int) -> list[int]:
        """Every task made for this item (first try and retries), oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT task_id FROM batch_item_tasks WHERE item_id=? ORDER BY task_id", (item_id,)
            ).fetchall()
        return [r[0] for r in rows]

    def _record(
        self,
        row: sqlite3.Row,
        inputs: list[InputRecord] | None = None,
        results: list[ResultRecord] | None = None,
    ) -> TaskRecord:
        task_id = row["id"]
        if inputs is None:
            inputs = [
                _input(r)
                for r in self._db.execute(
                    "SELECT * FROM task_inputs WHERE task_id=? ORDER BY idx", (task_id,)
                )
            ]
        if results is None:
            results = [
                _result(r)
                for r in self._db.execute(
                    "SELECT * FROM task_results WHERE task_id=? ORDER BY idx", (task_id,)
                )
            ]
        return TaskRecord(
            id=task_id,
            uid=row["uid"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            endpoint=row["endpoint"],
            prompt=row["prompt"],
            width=row["width"],
            height=row["height"],
            max_images=row["max_images"],
            sequential=bool(row["sequential"]),
            spec=TaskSpec.from_json(json.loads(row["spec_json"])),
            base_url=row["base_url"],
            status=row["status"],
            submit_state=row["submit_state"],
            remote_id=row["remote_id"],
            remote_status=row["remote_status"],
            cancel_requested=bool(row["cancel_requested"]),
            error_code=row["error_code"],
            error_message=row["error_message"],
            usage=json.loads(row["usage_json"]) if row["usage_json"] else None,
            cost_money=row["cost_money"],
            cost_coins=row["cost_coins"],
            submitted_at=row["submitted_at"],
            finished_at=row["finished_at"],
            batch_id=row["batch_id"],
            starred=bool(row["starred"]),
            note=row["note"],
            inputs=inputs,
            results=results,
            out_dir=row["out_dir"],
            out_name=row["out_name"],
            out_overwrite=bool(row["out_overwrite"]),
        )


def _input(r: sqlite3.Row) -> InputRecord:
    return InputRecord(
        idx=r["idx"],
        source_path=r["source_path"],
        local_path=r["local_path"],
        content_type=r["content_type"],
        width=r["width"],
        height=r["height"],
        notes=r["notes"],
        uploaded_url=r["uploaded_url"],
        uploaded_at=r["uploaded_at"],
    )


def _result(r: sqlite3.Row) -> ResultRecord:
    return ResultRecord(
        idx=r["idx"],
        url=r["url"],
        output_type=r["output_type"],
        state=r["state"],
        local_path=r["local_path"],
        bytes=r["bytes"],
        error=r["error"],
    )


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def fts_query(text: str) -> str:
    """A safe FTS5 query from what a person typed: every word must match, the last as a prefix."""
    words = [w for w in re.split(r"[^\w]+", text.lower()) if w]
    if not words:
        return ""
    quoted = ['"' + w.replace('"', '""') + '"' for w in words]
    quoted[-1] += "*"
    return " AND ".join(quoted)


def _split_sql(script: str) -> list[str]:
    """Statements of a migration (triggers contain ';' inside BEGIN … END)."""
    statements, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements
