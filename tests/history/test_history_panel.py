"""The history at scale, in the real window: search as you type, filters, stars and notes, the
detail pane and its explanations, delete and export, comparing any two images."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest
from history_helpers import Made, make_history
from PySide6.QtCore import QDate, QItemSelectionModel, Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QInputDialog, QMessageBox, QPushButton

from rhdesk.models.tasks import HistoryFilter, TaskListModel
from rhdesk.store import db as S
from rhdesk.store.db import Store
from rhdesk.ui import history as history_ui

N_TASKS = 2_000


@pytest.fixture
def big(make_window, tmp_path, monkeypatch):
    """A window (no key: nothing resumes and changes states under the test) over 2,000 tasks."""
    opened: list = []
    monkeypatch.setattr(history_ui, "open_url", lambda url: opened.append(url) or True)
    data = tmp_path / "data"
    store = Store(data / "history.sqlite3")
    made = make_history(store, tmp_path / "results", N_TASKS, files=True)
    store.close()
    window = make_window(data_dir=data)
    window.opened_urls = opened
    return window, made


def words_of(m: Made) -> list[str]:
    return (m.prompt + " " + m.note).lower().split()


def fts_expected(made: list[Made], query: str) -> set[int]:
    *full, last = query.lower().split()
    return {
        m.id for m in made
        if all(w in words_of(m) for w in full) and any(w.startswith(last) for w in words_of(m))
    }  # fmt: skip


def shown_ids(window) -> list[int]:
    return window.controller.tasks.ids()


def wait_applied(qtbot, window, text: str | None = None) -> None:
    panel = window.history
    qtbot.waitUntil(
        lambda: (
            not panel._search_timer.isActive() and (text is None or panel.search_done_for == text)
        ),
        timeout=5_000,
    )


def set_filter_and_wait(qtbot, window, fn) -> None:
    model = window.controller.tasks
    with qtbot.waitSignal(model.filter_applied, timeout=5_000):
        fn()


# -- the lazy model ---------------------------------------------------------------------------


def test_the_model_of_5000_tasks_counts_them_all_but_holds_only_a_bounded_number(
    qapp, tmp_path
) -> None:
    store = Store(tmp_path / "h.sqlite3")
    made = make_history(store, tmp_path / "res", 5_000)
    model = TaskListModel(store, cache_rows=300, page=100)
    try:
        assert model.rowCount() == 5_000
        assert model.cached_rows <= len(model.active_rows()) + 1  # nothing read yet
        newest = sorted(made, key=lambda m: m.created_at, reverse=True)
        assert model.index(0).data() == newest[0].prompt
        assert model.index(4_999).data() == newest[-1].prompt
        for r in range(0, 5_000, 7):  # scroll through everything
            assert model.index(r).data() == newest[r].prompt
        assert model.cached_rows <= 300 + 100  # the cache plus live rows, never all 5,000
        assert model.row_for(newest[1234].id) == 1234
        assert model.task(newest[1234].id).prompt == newest[1234].prompt
    finally:
        model.shutdown()
        store.close()


# -- search and filters -----------------------------------------------------------------------


def test_search_as_you_type_shows_exactly_the_matching_tasks(qtbot, big) -> None:
    window, made = big
    assert window.controller.tasks.rowCount() == N_TASKS
    search = window.findChild(QApplication.instance().focusWidget().__class__.__mro__[-2],
                              "historySearch") or window.history.search_edit  # fmt: skip
    assert search.placeholderText() == "Search prompts and notes"
    qtbot.keyClicks(search, "sun")  # three keystrokes, one query after the pause
    wait_applied(qtbot, window, "sun")
    assert set(shown_ids(window)) == fts_expected(made, "sun") != set()
    # newest first
    created = {m.id: m.created_at for m in made}
    ids = shown_ids(window)
    assert [created[i] for i in ids] == sorted((created[i] for i in ids), reverse=True)
    qtbot.keyClicks(search, "set gold")
    wait_applied(qtbot, window, "sunset gold")
    assert set(shown_ids(window)) == fts_expected(made, "sunset gold") != set()
    # notes are searched too
    search.clear()
    qtbot.keyClicks(search, "client job")
    wait_applied(qtbot, window, "client job")
    assert set(shown_ids(window)) == {m.id for m in made if m.note}


def test_only_the_latest_search_is_applied(qtbot, big) -> None:
    window, made = big
    model = window.controller.tasks
    # Requests racing each other: the answers of stale ones must be dropped.
    model.request_filter(HistoryFilter(search="cat"))
    model.request_filter(HistoryFilter(search="dog"))
    last = model.request_filter(HistoryFilter(search="neon"))
    qtbot.waitUntil(lambda: model.filter.search == "neon", timeout=5_000)
    assert set(model.ids()) == fts_expected(made, "neon")
    assert model._generation == last


def test_search_ignores_accents_and_case(qtbot, big) -> None:
    window, made = big
    model = window.controller.tasks
    model.set_user_note(made[5].id, "Crème brûlée for Café Zoë")
    search = window.history.search_edit
    qtbot.keyClicks(search, "CAFE zoe")
    wait_applied(qtbot, window, "CAFE zoe")
    assert shown_ids(window) == [made[5].id]


def test_no_match_shows_a_clear_empty_state_and_clearing_brings_all_back(qtbot, big) -> None:
    window, _made = big
    panel = window.history
    qtbot.keyClicks(panel.search_edit, "zzzqqq")
    wait_applied(qtbot, window, "zzzqqq")
    assert window.controller.tasks.rowCount() == 0
    assert panel.stack.currentWidget() is panel.empty
    assert panel.empty_title.text() == "No tasks match"
    assert panel.clear_filters_button.isVisible()
    set_filter_and_wait(qtbot, window, lambda: qtbot.mouseClick(
        panel.clear_filters_button, Qt.MouseButton.LeftButton))  # fmt: skip
    assert window.controller.tasks.rowCount() == N_TASKS
    assert panel.stack.currentWidget() is panel.view
    assert panel.search_edit.text() == ""


@pytest.mark.parametrize(
    ("key", "statuses"),
    [("done", {S.SUCCEEDED}), ("failed", {S.FAILED}), ("unknown", {S.UNKNOWN, S.GAVE_UP}),
     ("cancelled", {S.CANCELLED})],
)  # fmt: skip
def test_status_filter(qtbot, big, key, statuses) -> None:
    window, made = big
    combo = window.history.status_filter
    set_filter_and_wait(qtbot, window, lambda: combo.setCurrentIndex(combo.findData(key)))
    assert set(shown_ids(window)) == {m.id for m in made if m.status in statuses}


def test_model_filter_and_starred_and_search_combine(qtbot, big) -> None:
    window, made = big
    panel = window.history
    combo = panel.model_filter
    set_filter_and_wait(qtbot, window, lambda: combo.setCurrentIndex(combo.findData("seedream-v4")))
    want = {m.id for m in made if m.endpoint.startswith("seedream-v4/")}
    assert set(shown_ids(window)) == want and want
    set_filter_and_wait(qtbot, window, lambda: panel.star_filter.setChecked(True))
    want = {m.id for m in made if m.endpoint.startswith("seedream-v4/") and m.starred}
    assert set(shown_ids(window)) == want and want
    qtbot.keyClicks(panel.search_edit, "fog")
    wait_applied(qtbot, window, "fog")
    assert set(shown_ids(window)) == want & fts_expected(made, "fog")


def test_date_filters(qtbot, big) -> None:
    window, made = big
    panel = window.history
    combo = panel.date_filter
    midnight = dt.datetime.combine(dt.date.today(), dt.time()).timestamp()
    day = 86_400
    for key, since in (("today", midnight), ("7d", midnight - 6 * day),
                       ("30d", midnight - 29 * day)):  # fmt: skip
        set_filter_and_wait(qtbot, window, lambda k=key: combo.setCurrentIndex(combo.findData(k)))
        want = {m.id for m in made if m.created_at >= since}
        assert set(shown_ids(window)) == want and want, key
    # a range of whole days, both ends included
    set_filter_and_wait(qtbot, window, lambda: combo.setCurrentIndex(combo.findData("range")))
    assert panel.range_row.isVisible()
    start, end = dt.date.today() - dt.timedelta(days=20), dt.date.today() - dt.timedelta(days=10)
    set_filter_and_wait(qtbot, window, lambda: panel.from_date.setDate(QDate(start)))
    set_filter_and_wait(qtbot, window, lambda: panel.to_date.setDate(QDate(end)))
    lo = dt.datetime.combine(start, dt.time()).timestamp()
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time()).timestamp()
    want = {m.id for m in made if lo <= m.created_at < hi}
    assert set(shown_ids(window)) == want and want


# -- star, note -------------------------------------------------------------------------------


def select(qtbot, window, task_id: int) -> None:
    window.history.select_task(task_id)
    qtbot.waitUntil(lambda: window.history.detail.task_id == task_id)


def test_star_and_note_are_saved_and_found(qtbot, big) -> None:
    window, made = big
    panel = window.history
    target = next(m for m in made if not m.starred and not m.note)
    select(qtbot, window, target.id)
    panel.actions_by_name["starAction"].trigger()
    assert window.controller.store.get(target.id).starred
    assert panel.detail.star_button.text() == "★"
    assert panel.actions_by_name["starAction"].text() == "Unstar"
    panel.actions_by_name["noteAction"].trigger()
    dialog = panel.findChild(QInputDialog, "noteDialog")
    assert dialog is not None and dialog.isVisible()
    dialog.setTextValue("retouch for the Müller wedding")
    dialog.accept()
    assert window.controller.store.get(target.id).note == "retouch for the Müller wedding"
    assert "Müller" in panel.detail.fields["note"].text()
    qtbot.keyClicks(panel.search_edit, "muller wed")
    wait_applied(qtbot, window, "muller wed")
    assert shown_ids(window) == [target.id]
    set_filter_and_wait(qtbot, window, lambda: panel.star_filter.setChecked(True))
    assert shown_ids(window) == [target.id]
    # unstarring in a starred-only list takes it out
    set_filter_and_wait(qtbot, window, lambda: panel.actions_by_name["starAction"].trigger())
    assert shown_ids(window) == []


# -- detail -----------------------------------------------------------------------------------


def test_detail_shows_every_parameter_timing_cost_and_the_call_record(qtbot, big) -> None:
    window, made = big
    done = next(m for m in reversed(made) if m.status == S.SUCCEEDED)
    window.controller.store.update(done.id, cost_money=0.2, cost_coins=20)
    select(qtbot, window, done.id)
    detail = window.history.detail
    assert detail.objectName() == "taskDetail" and detail.isVisible()
    f = detail.fields
    assert detail.prompt_label.text() == done.prompt
    assert f["size"].text() == "2048 × 2048"
    assert f["images"].text() == "One image"
    assert f["remote"].text() == f"r{done.id - 1}"
    assert "¥0.20" in f["cost"].text() and "20 coins" in f["cost"].text()
    assert f["duration"].text() == "19 s"
    assert "call records" in f["record"].text()
    assert detail.results.paths() == done.results
    assert not detail.explain.isVisible()
    f["record"].linkActivated.emit("http://127.0.0.1:1/")
    assert window.opened_urls and window.opened_urls[-1].toString() == "http://127.0.0.1:1/"


def test_unknown_task_is_explained_with_run_again_and_check_again_when_possible(qtbot, big) -> None:
    window, made = big
    detail = window.history.detail
    unknown = next(m for m in made if m.status == S.UNKNOWN)  # no remote id
    select(qtbot, window, unknown.id)
    assert detail.explain.isVisible()
    text = detail.explain_label.text()
    assert "not known whether RunningHub started" in text and "call record" in text
    assert detail.offers_run_again and detail.run_button.isVisible()
    assert detail.run_button.text() == "Run again" and detail.run_button.isEnabled()
    assert not detail.explain_check.isVisible()
    gave_up = next(m for m in made if m.status == S.GAVE_UP)
    select(qtbot, window, gave_up.id)
    assert "may still be running" in detail.explain_label.text()
    assert detail.explain_check.isVisible() and detail.explain_check.isEnabled()
    # a result whose link expired before it was downloaded says so
    done = next(m for m in made if m.status == S.SUCCEEDED)
    store = window.controller.store
    store.set_results(done.id, [("https://cdn/x.png", "png"), ("https://cdn/y.png", "png")])
    store.set_result(done.id, 1, state=S.RESULT_EXPIRED)
    window.controller.tasks.refresh_task(done.id)
    select(qtbot, window, done.id)
    assert "expired before they could be downloaded" in detail.explain_label.text()
    assert detail.offers_run_again and detail.run_button.isEnabled()


# -- delete, export ---------------------------------------------------------------------------


def _answer_delete(qtbot, window, button_name: str) -> None:
    window.history.actions_by_name["deleteAction"].trigger()
    box = window.history.findChild(QMessageBox, "deleteTasksBox")
    assert box is not None and box.isVisible()
    assert {b.text() for b in box.buttons()} >= {"Remove from history", "Remove and delete files"}
    qtbot.mouseClick(box.findChild(QPushButton, button_name), Qt.MouseButton.LeftButton)


@pytest.mark.parametrize("with_files", [False, True])
def test_delete_asks_and_keeps_or_deletes_the_files(qtbot, big, with_files: bool) -> None:
    window, made = big
    target = next(m for m in reversed(made) if m.results)
    select(qtbot, window, target.id)
    assert target.results[0].exists()
    _answer_delete(qtbot, window, "deleteWithFiles" if with_files else "deleteKeepFiles")
    assert target.id not in shown_ids(window)
    assert window.controller.tasks.rowCount() == N_TASKS - 1
    with pytest.raises(S.StoreError):
        window.controller.store.get(target.id)
    assert target.results[0].exists() is not with_files
    assert window.history.detail.task_id is None


def test_cancel_in_the_delete_question_deletes_nothing(qtbot, big) -> None:
    window, made = big
    select(qtbot, window, made[-1].id)
    window.history.actions_by_name["deleteAction"].trigger()
    box = window.history.findChild(QMessageBox, "deleteTasksBox")
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert window.controller.tasks.rowCount() == N_TASKS


def test_export_selected_tasks_writes_results_and_json_sidecars(qtbot, big, tmp_path) -> None:
    window, made = big
    panel = window.history
    picks = [m for m in reversed(made) if m.results][:2] + [
        next(m for m in reversed(made) if m.status == S.FAILED)
    ]
    model, sel = window.controller.tasks, panel.view.selectionModel()
    select(qtbot, window, picks[0].id)
    for m in picks[1:]:
        sel.select(model.index(model.row_for(m.id)), QItemSelectionModel.SelectionFlag.Select)
    assert set(panel.selected_ids()) == {m.id for m in picks}
    out = tmp_path / "export"
    panel.actions_by_name["exportAction"].trigger()
    dialog = panel.findChild(QFileDialog, "exportDialog")
    assert dialog is not None and dialog.isVisible()
    with qtbot.waitSignal(model.exported, timeout=10_000) as done:
        dialog.fileSelected.emit(str(out))
    written = done.args[0]
    sidecars = sorted(p for p in written if p.suffix == ".json")
    images = [p for p in written if p.suffix == ".png"]
    assert len(sidecars) == 3 and len(images) == 2
    assert all(p.exists() and p.parent == out for p in written)
    details = [json.loads(p.read_text(encoding="utf-8")) for p in sidecars]
    assert {d["id"] for d in details} == {m.id for m in picks}
    by_id = {m.id: m for m in picks}
    for d in details:
        assert d["prompt"] == by_id[d["id"]].prompt and d["model"] == by_id[d["id"]].endpoint
    assert {p.read_bytes() for p in images} == {picks[0].results[0].read_bytes()}


# -- compare any two, reveal, copy --------------------------------------------------------------


def test_any_two_images_from_different_tasks_go_into_the_compare_view(qtbot, big) -> None:
    window, made = big
    first, second = [m for m in reversed(made) if m.results][:2]
    # make the two results different pictures so the compare view has something to compare
    from PIL import Image

    Image.new("RGB", (64, 48), (20, 120, 220)).save(second.results[0])
    detail = window.history.detail
    select(qtbot, window, first.id)
    menu = detail.thumb_menu(detail.results, detail.results.item(0))
    menu.findChild(type(menu.actions()[0]), "setBeforeAction").trigger()
    select(qtbot, window, second.id)
    menu = detail.thumb_menu(detail.results, detail.results.item(0))
    menu.findChild(type(menu.actions()[0]), "setAfterAction").trigger()
    compare = window.compare
    assert compare.result_paths() == [second.results[0]]
    qtbot.waitUntil(lambda: compare.canvas.both(), timeout=10_000)


def test_copy_prompt_details_and_reveal(qtbot, big) -> None:
    window, made = big
    target = next(m for m in reversed(made) if m.results)
    select(qtbot, window, target.id)
    a = window.history.actions_by_name
    a["copyPromptAction"].trigger()
    assert QApplication.clipboard().text() == target.prompt
    a["copyDetailsAction"].trigger()
    assert json.loads(QApplication.clipboard().text())["id"] == target.id
    a["revealAction"].trigger()
    assert Path(window.opened_urls[-1].toLocalFile()) == target.results[0].parent
    a["openResultAction"].trigger()
    assert Path(window.opened_urls[-1].toLocalFile()) == target.results[0]


def test_thumbnails_are_cached_on_disk(qtbot, big, tmp_path) -> None:
    window, made = big
    select(qtbot, window, next(m for m in reversed(made) if m.results).id)  # a row with a picture
    folder = tmp_path / "data" / "thumbs"
    qtbot.waitUntil(lambda: any(folder.glob("*/*.webp")), timeout=10_000)
    assert len(window.thumbs) <= window.thumbs.capacity


def test_scrolling_to_the_end_keeps_memory_bounded(qtbot, big) -> None:
    window, _made = big
    view, model = window.history.view, window.controller.tasks
    bar = view.verticalScrollBar()
    t0 = time.monotonic()
    for value in range(0, bar.maximum() + 1, max(1, bar.maximum() // 200)):
        bar.setValue(value)
        view.viewport().repaint()
    assert time.monotonic() - t0 < 60
    assert model.cached_rows <= 2_000 + len(model.active_rows())
