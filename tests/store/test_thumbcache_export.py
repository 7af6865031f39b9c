from __future__ import annotations

import json
import os
import time
from pathlib import Path

from PIL import Image

from rhdesk.core.task import TaskSpec
from rhdesk.store import db as S
from rhdesk.store.db import Store
from rhdesk.store.export import export_tasks
from rhdesk.store.thumbcache import ThumbDiskCache


def test_thumbnails_are_cached_and_follow_the_source(tmp_path, photos):
    src = tmp_path / "photo.png"
    Image.open(photos["coffee"]).save(src)
    cache = ThumbDiskCache(tmp_path / "thumbs")
    first = cache.get(src, 128)
    with Image.open(first) as im:
        assert max(im.size) == 128
    mtime = first.stat().st_mtime_ns
    assert cache.get(src, 128) == first and first.stat().st_mtime_ns >= mtime  # reused
    Image.new("RGB", (300, 100), "red").save(src)  # the source changed
    os.utime(src, (time.time() + 5, time.time() + 5))
    second = cache.get(src, 128)
    assert second != first
    with Image.open(second) as im:
        assert im.size == (128, 43)


def test_prune_keeps_the_most_recent(tmp_path, photos):
    cache = ThumbDiskCache(tmp_path / "thumbs", max_bytes=1)
    paths = []
    for i in range(3):
        src = tmp_path / f"p{i}.png"
        Image.new("RGB", (200, 200), (i * 80, 0, 0)).save(src)
        paths.append(cache.get(src, 64))
    assert cache.prune() == 3 or cache.prune() >= 2
    assert sum(1 for p in paths if p.exists()) <= 1


def test_export_writes_results_and_a_sidecar(tmp_path):
    store = Store(tmp_path / "h.sqlite3")
    result = tmp_path / "lib" / "r.png"
    result.parent.mkdir()
    Image.new("RGB", (10, 10)).save(result)
    tid = store.create_task(
        TaskSpec("seedream-v4.5/text-to-image", "a red barn at dawn", 2048, 2048), "u"
    )
    store.set_results(tid, [("https://cdn/r.png", "png")])
    store.set_result(tid, 0, state=S.RESULT_SAVED, local_path=str(result))
    store.set_status(tid, S.SUCCEEDED, remote_id="77")
    out = tmp_path / "export"
    files = export_tasks(store, [tid], out)
    images = [f for f in files if f.suffix == ".png"]
    sidecars = [f for f in files if f.suffix == ".json"]
    assert len(images) == 1 and images[0].read_bytes() == result.read_bytes()
    data = json.loads(sidecars[0].read_text())
    assert data["prompt"] == "a red barn at dawn" and data["remote_task_id"] == "77"
    assert data["model"] == "seedream-v4.5/text-to-image"
    again = export_tasks(store, [tid], out)  # never overwrites
    assert set(again).isdisjoint(files) and all(Path(f).exists() for f in files)
