"""History at scale: 10,000 tasks with 30,000 result files.

Builds such a history in a temporary folder (or --data-dir), then measures what a person feels:
opening the history panel, scrolling it end to end (painting every row, thumbnails made lazily off
the GUI thread), searching as one types, and the peak memory. Prints figures; asserts nothing.

    python bench/bench_history.py [--tasks 10000] [--results-per-task 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

WORDS = [
    "sky",
    "sunset",
    "snow",
    "rain",
    "city",
    "street",
    "portrait",
    "cat",
    "dog",
    "coffee",
    "cup",
    "mountain",
    "lake",
    "forest",
    "night",
    "neon",
    "vintage",
    "film",
    "grain",
    "watercolour",
    "oil",
    "painting",
    "product",
    "shot",
    "studio",
    "light",
    "soft",
    "warm",
    "cold",
    "blue",
    "red",
    "golden",
    "hour",
    "fog",
    "beach",
    "desert",
    "skin",
    "texture",
    "background",
    "clutter",
    "remove",
    "replace",
    "keep",
]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_history(data: Path, n_tasks: int, per_task: int) -> None:
    from PIL import Image

    from rhdesk.core.task import TaskSpec
    from rhdesk.store import db as S
    from rhdesk.store.db import Store

    rng = random.Random(7)
    lib = data / "results"
    lib.mkdir(parents=True, exist_ok=True)
    # a few distinct small images, copied: 30,000 real files without 30,000 encodes
    samples = []
    for i in range(12):
        p = data / f"sample{i}.jpg"
        Image.new("RGB", (96, 64), (i * 20, 255 - i * 20, (i * 57) % 255)).save(p, quality=80)
        samples.append(p.read_bytes())
    store = Store(data / "history.sqlite3")
    t0 = time.perf_counter()
    now = time.time()
    db = store._db
    db.execute("BEGIN")
    for t in range(n_tasks):
        prompt = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 18)))
        spec = TaskSpec("seedream-v4.5/text-to-image", prompt, 2048, 2048)
        created = now - (n_tasks - t) * 60
        cur = db.execute(
            """INSERT INTO tasks (uid, created_at, updated_at, endpoint, prompt, width, height,
               spec_json, status, remote_id, submit_state, starred) VALUES
               (?,?,?,?,?,?,?,?,?,?,?,?)""",
            (f"u{t}", created, created, spec.endpoint, prompt, 2048, 2048,
             json.dumps({"endpoint": spec.endpoint, "prompt": "x", "width": 2048, "height": 2048}),
             S.SUCCEEDED if t % 17 else S.FAILED, str(10**18 + t), S.SUBMIT_ACCEPTED,
             int(t % 50 == 0)),
        )  # fmt: skip
        tid = cur.lastrowid
        for k in range(per_task):
            f = lib / f"{t:05d}_{k}.jpg"
            f.write_bytes(samples[(t + k) % len(samples)])
            db.execute(
                "INSERT INTO task_results (task_id, idx, url, output_type, state, local_path) "
                "VALUES (?,?,?,?,?,?)",
                (tid, k, f"https://cdn/{t}/{k}.jpg", "jpg", S.RESULT_SAVED, str(f)),
            )
    db.execute("COMMIT")
    store.close()
    print(
        f"built {n_tasks:,} tasks / {n_tasks * per_task:,} files in {time.perf_counter() - t0:.1f} s"
    )


def bench_store(data: Path) -> None:
    from rhdesk.store.db import Store

    t0 = time.perf_counter()
    store = Store(data / "history.sqlite3")
    ids = store.list_ids()
    t_open = time.perf_counter() - t0
    t0 = time.perf_counter()
    page = store.get_many(ids[:60])
    t_page = time.perf_counter() - t0
    print(f"store: open + all {len(ids):,} ids {t_open * 1000:.1f} ms; first page of {len(page)} rows "
          f"{t_page * 1000:.1f} ms")  # fmt: skip
    times = []
    for q in ["s", "su", "sun", "suns", "sunset", "sunset gold", "sunset golden h", "neon city"]:
        t0 = time.perf_counter()
        hits = store.list_ids(search=q)
        times.append((q, (time.perf_counter() - t0) * 1000, len(hits)))
    for q, ms, n in times:
        print(f"  search {q!r:>20}: {ms:6.1f} ms, {n:,} hits")
    store.close()


def bench_ui(data: Path) -> None:
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    loop = qasync.QEventLoop(app, already_running=True)
    asyncio.set_event_loop(loop)
    from rhdesk.app import build_main_window

    t0 = time.perf_counter()
    win = build_main_window(["--demo", "--data-dir", str(data)])
    win.resize(1440, 900)
    win.show()
    app.processEvents()
    t_open = time.perf_counter() - t0
    view = win.history.view
    model = view.model()
    print(
        f"ui: window with history open in {t_open * 1000:.0f} ms; rows in panel: {model.rowCount():,}"
    )

    # scroll end to end, painting each step; record every frame
    bar = view.verticalScrollBar()
    frames = []
    step = max(1, view.viewport().height() // 2)
    t_all = time.perf_counter()
    pos = 0
    while True:
        t0 = time.perf_counter()
        bar.setValue(pos)
        view.viewport().repaint()
        app.processEvents()
        frames.append((time.perf_counter() - t0) * 1000)
        if pos >= bar.maximum():
            break
        pos += step
    t_all = time.perf_counter() - t_all
    frames.sort()
    print(f"ui: scrolled {model.rowCount():,} rows in {len(frames)} steps, {t_all:.1f} s; frame median "
          f"{statistics.median(frames):.1f} ms, p99 {frames[int(len(frames) * 0.99) - 1]:.1f} ms, "
          f"max {frames[-1]:.1f} ms; rows held in memory {model.cached_rows:,}, "
          f"thumbnails in memory {len(win.thumbs)}")  # fmt: skip
    # a second pass: thumbnails now come from the disk cache
    thumbs_on_disk = sum(1 for _ in (data / "thumbs").glob("*/*.webp"))
    print(f"ui: thumbnails made and cached on disk so far: {thumbs_on_disk:,}")

    # search as one types: a keystroke every 80 ms (a fast typist), then the pause
    search = win.history.search_edit
    search.setFocus()
    lat, stalls = [], []
    for word in ["sunset", "neon city"]:
        search.clear()
        app.processEvents()
        typed = ""
        t_word = time.perf_counter()
        for ch in word:
            typed += ch
            t0 = time.perf_counter()
            search.setText(typed)
            app.processEvents()
            stalls.append((time.perf_counter() - t0) * 1000)  # the window's response to a key
            deadline = time.perf_counter() + 0.08
            while time.perf_counter() < deadline:
                t1 = time.perf_counter()
                app.processEvents()
                stalls.append((time.perf_counter() - t1) * 1000)
        t0 = time.perf_counter()
        deadline = time.perf_counter() + 10
        while time.perf_counter() < deadline and win.history.search_done_for != typed:
            app.processEvents()
        lat.append((word, (time.perf_counter() - t0) * 1000, (time.perf_counter() - t_word) * 1000,
                    model.rowCount()))  # fmt: skip
    for word, after_last, total, n in lat:
        print(f"ui: typed {word!r}: list updated {after_last:.0f} ms after the last key "
              f"({total:.0f} ms for the word), {n:,} matches")  # fmt: skip
    # every keystroke, each measured until its own result is on screen (no debounce skipped)
    per_key = []
    search.clear()
    app.processEvents()
    for text in ["s", "su", "sun", "suns", "sunse", "sunset"]:
        t0 = time.perf_counter()
        search.setText(text)
        deadline = time.perf_counter() + 10
        while time.perf_counter() < deadline and win.history.search_done_for != text:
            app.processEvents()
        per_key.append((time.perf_counter() - t0) * 1000)
    print("ui: search, per keystroke until the list updated (incl. 150 ms debounce): "
          + ", ".join(f"{x:.0f}" for x in per_key) + " ms")  # fmt: skip
    stalls.sort()
    print(f"ui: event-loop turns while typing: median {statistics.median(stalls):.2f} ms, "
          f"max {stalls[-1]:.1f} ms")  # fmt: skip
    win.close()
    loop.run_until_complete(win.controller.shutdown()) if not loop.is_running() else None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--results-per-task", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="build into (or reuse) this folder")
    ap.add_argument("--no-ui", action="store_true")
    args = ap.parse_args()
    data = args.keep or Path(tempfile.mkdtemp(prefix="rhdesk-bench-history-"))
    try:
        if not (data / "history.sqlite3").exists():
            build_history(data, args.tasks, args.results_per_task)
        bench_store(data)
        if not args.no_ui:
            bench_ui(data)
        print(f"peak memory (max RSS) {rss_mb():.0f} MB")
    finally:
        if not args.keep:
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
