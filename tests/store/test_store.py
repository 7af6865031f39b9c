from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from rhdesk.core.task import TaskSpec
from rhdesk.store import db as S
from rhdesk.store.db import Store, StoreError


def spec(prompt="make the sky pink", inputs=()):
    return TaskSpec(
        "seedream-v4.5/image-to-image", prompt, 2048, 2048, inputs=[Path(p) for p in inputs]
    )


def test_task_row_is_complete_and_survives_reopen(tmp_path):
    db = tmp_path / "h.sqlite3"
    store = Store(db)
    tid = store.create_task(spec(inputs=["/a.png", "/b.png"]), "http://127.0.0.1:1")
    store.set_status(tid, S.SUBMITTING, "sending", submit_state=S.SUBMIT_SENDING)
    store.set_status(tid, S.QUEUED, "sent", remote_id="123", submit_state=S.SUBMIT_ACCEPTED)
    store.set_results(tid, [("https://cdn/x.png", "png"), ("https://cdn/y.jpg", "jpg")])
    store.set_result(tid, 0, state=S.RESULT_SAVED, local_path="/lib/x.png", bytes=10)
    store.close()

    again = Store(db)
    rec = again.get(tid)
    assert rec.remote_id == "123" and rec.status == S.QUEUED
    assert [i.source_path for i in rec.inputs] == ["/a.png", "/b.png"]
    assert [r.state for r in rec.results] == [S.RESULT_SAVED, S.RESULT_PENDING]
    assert rec.result_paths == [Path("/lib/x.png")]
    assert [e[1] for e in again.events(tid)] == [S.PENDING, S.SUBMITTING, S.QUEUED]
    assert again.schema_version == S.SCHEMA_VERSION


def test_saved_results_are_not_overwritten_by_a_later_report(tmp_path):
    store = Store(tmp_path / "h.sqlite3")
    tid = store.create_task(spec(), "u")
    store.set_results(tid, [("https://cdn/1.png", "png")])
    store.set_result(tid, 0, state=S.RESULT_SAVED, local_path="/lib/1.png")
    store.set_results(tid, [("https://cdn/other.png", "png")])
    assert store.get(tid).results[0].url == "https://cdn/1.png"


def test_unfinished_lists_what_a_restart_must_pick_up(tmp_path):
    store = Store(tmp_path / "h.sqlite3")
    done = store.create_task(spec(), "u")
    store.set_status(done, S.SUCCEEDED)
    running = store.create_task(spec(), "u")
    store.set_status(running, S.RUNNING, remote_id="9")
    undownloaded = store.create_task(spec(), "u")
    store.set_results(undownloaded, [("https://cdn/1.png", "png")])
    store.set_status(undownloaded, S.SUCCEEDED)
    failed = store.create_task(spec(), "u")
    store.set_status(failed, S.FAILED)
    assert [r.id for r in store.unfinished()] == [running, undownloaded]


def test_list_filters_and_full_text_search(tmp_path):
    store = Store(tmp_path / "h.sqlite3")
    a = store.create_task(spec("100% more snow on the mountains"), "u")
    b = store.create_task(spec("a red_car in the rain"), "u")
    c = store.create_task(
        TaskSpec("seedream-v4/text-to-image", "Café scene at dusk", 2048, 2048), "u"
    )
    store.set_status(b, S.FAILED)
    store.update(c, starred=1, note="client favourite")
    assert [r.id for r in store.list(search="snow")] == [a]
    assert [r.id for r in store.list(search="mount")] == [a]  # prefix of the last word
    assert [r.id for r in store.list(search="red car")] == [b]
    assert [r.id for r in store.list(search="cafe")] == [c]  # diacritics folded
    assert [r.id for r in store.list(search="favourite")] == [c]  # notes are searched too
    assert store.list(search='" OR 1 --') == []  # typed syntax is only words
    assert [r.id for r in store.list(search="  ")] == [c, b, a]
    assert [r.id for r in store.list(statuses=[S.FAILED])] == [b]
    assert [r.id for r in store.list(families=["seedream-v4"])] == [c]
    assert [r.id for r in store.list(starred=True)] == [c]
    assert store.list_ids(search="rain") == [b]
    assert len(store.list(limit=2)) == 2
    assert store.list()[0].prompt == "Café scene at dusk"  # newest first
    store.delete_task(a)
    assert store.list(search="snow") == []


def test_unknown_columns_are_rejected(tmp_path):
    store = Store(tmp_path / "h.sqlite3")
    tid = store.create_task(spec(), "u")
    with pytest.raises(StoreError):
        store.update(tid, prompt="changed; DROP TABLE tasks")


def test_newer_schema_is_refused_with_a_clear_message(tmp_path):
    db = tmp_path / "h.sqlite3"
    Store(db).close()
    con = sqlite3.connect(db)
    con.execute("PRAGMA user_version=99")
    con.close()
    with pytest.raises(StoreError, match="newer rhdesk"):
        Store(db)


def test_wal_mode_is_on(tmp_path):
    store = Store(tmp_path / "h.sqlite3")
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_migration_from_the_first_schema_keeps_tasks_and_makes_them_searchable(tmp_path):
    db = tmp_path / "old.sqlite3"
    con = sqlite3.connect(db)
    for statement in S._split_sql(S._MIGRATIONS[1]):
        con.execute(statement)
    con.execute("PRAGMA user_version=1")
    con.execute(
        """INSERT INTO tasks (uid, created_at, updated_at, endpoint, prompt, width, height,
           spec_json, status, remote_id) VALUES ('u1', 1, 1, 'seedream-v4.5/image-to-image',
           'old lighthouse prompt', 2048, 2048, ?, 'succeeded', '42')""",
        (
            '{"endpoint": "seedream-v4.5/image-to-image", "prompt": "old lighthouse prompt", '
            '"width": 2048, "height": 2048, "inputs": []}',
        ),
    )
    con.commit()
    con.close()
    store = Store(db)
    assert store.schema_version == S.SCHEMA_VERSION
    (rec,) = store.list(search="lighthouse")
    assert rec.remote_id == "42" and rec.status == S.SUCCEEDED
