"""Build big histories straight in the store (fast: one transaction, no pipeline)."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from rhdesk.store import db as S
from rhdesk.store.db import Store

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
    "product",
    "studio",
    "light",
    "soft",
    "warm",
    "cold",
    "blue",
    "red",
    "golden",
    "fog",
    "beach",
]
ENDPOINTS = [
    "seedream-v4.5/image-to-image",
    "seedream-v4.5/text-to-image",
    "seedream-v4/image-to-image",
]
STATUSES = [S.SUCCEEDED] * 6 + [S.FAILED, S.CANCELLED, S.UNKNOWN, S.GAVE_UP]


@dataclass
class Made:
    id: int
    prompt: str
    endpoint: str
    status: str
    created_at: float
    starred: bool
    note: str
    results: list[Path]


def make_history(
    store: Store,
    folder: Path,
    n: int,
    *,
    seed: int = 3,
    files: bool = False,
    base_url: str = "http://127.0.0.1:1",
    now: float | None = None,
) -> list[Made]:
    """`n` tasks, one an hour going back from `now`, of mixed models and states; every 7th is
    starred, every 11th has a note. With `files`, every successful task has one real result."""
    rng = random.Random(seed)
    now = now or time.time()
    sample = folder / "sample.png"
    if files:
        folder.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (64, 48), (200, 90, 30)).save(sample)
    made: list[Made] = []
    db = store._db
    with store._lock:
        db.execute("BEGIN")
        for t in range(n):
            prompt = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 10)))
            endpoint = ENDPOINTS[t % len(ENDPOINTS)]
            status = STATUSES[t % len(STATUSES)]
            created = now - (n - t) * 3600
            starred = t % 7 == 0
            note = f"client job {t}" if t % 11 == 0 else ""
            spec = {"endpoint": endpoint, "prompt": prompt, "width": 2048, "height": 2048}
            cur = db.execute(
                """INSERT INTO tasks (uid, created_at, updated_at, endpoint, prompt, width, height,
                   spec_json, base_url, status, remote_id, submit_state, starred, note,
                   submitted_at, finished_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                (f"u{seed}-{t}", created, created, endpoint, prompt, 2048, 2048, json.dumps(spec),
                 base_url, status, None if status == S.UNKNOWN else f"r{t}", S.SUBMIT_ACCEPTED,
                 int(starred), note, created + 1, created + 20),
            )  # fmt: skip
            tid = int(cur.lastrowid)
            results: list[Path] = []
            if files and status == S.SUCCEEDED:
                f = folder / f"result_{tid}.png"
                f.write_bytes(sample.read_bytes())
                db.execute(
                    "INSERT INTO task_results (task_id, idx, url, state, local_path) "
                    "VALUES (?,?,?,?,?)",
                    (tid, 0, f"https://cdn/{tid}.png", S.RESULT_SAVED, str(f)),
                )
                results.append(f)
            made.append(Made(tid, prompt, endpoint, status, created, starred, note, results))
        db.execute("COMMIT")
    return made
