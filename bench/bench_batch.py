"""A 200-photo batch against the emulator with zero queue and run time and a high concurrency
limit: what the client itself costs per photo.

The emulator runs in a process of its own, so the CPU time measured here is the client's only:
scanning, checking (a full decode of every photo), planning, preparing, uploading, submitting,
polling, downloading, writing metadata and the report. Prints figures; asserts nothing.

    python bench/bench_batch.py [--photos 200] [--limit 50] [--model v4] [--tracemalloc]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EMULATOR = """
import json, sys, threading
from rhdesk.emulator import Emulator, EmulatorConfig
emu = Emulator(EmulatorConfig(api_keys={"bench-key"}, queue_seconds=0, run_seconds=0,
                              concurrency_limit=int(sys.argv[1]), coins=10**9))
print(json.dumps({"url": emu.start()}), flush=True)
sys.stdin.read()  # until the benchmark closes our stdin
print(json.dumps({"submits": emu.submit_count, "max_concurrent": emu.max_concurrent_seen}),
      flush=True)
emu.stop()
"""


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run_batch(folder: Path, out: Path, data: Path, base_url: str, model: str, limit: int):
    from rhdesk.api.client import RunningHubClient
    from rhdesk.core.catalogue import resolve_model_name
    from rhdesk.jobs import batch as B
    from rhdesk.jobs.pipeline import JobRunner, PollPolicy, RunnerConfig
    from rhdesk.store.db import Store

    spec = resolve_model_name(model, with_images=True)
    store = Store(data / "history.sqlite3")
    marks: dict[str, tuple[float, float]] = {}

    def mark(name: str) -> None:
        marks[name] = (time.perf_counter(), time.process_time())

    mark("start")
    async with RunningHubClient("bench-key", base_url) as client:
        runner = JobRunner(store, client, RunnerConfig(
            library=data / "library", inputs_dir=data / "inputs",
            poll=PollPolicy(first=0.05, max_interval=0.2), concurrency=limit,
        ))  # fmt: skip
        settings = B.BatchSettings(
            prompt="remove the background clutter, keep skin texture",
            endpoint=spec.endpoint, out_root=out, tier="1K", concurrency=limit,
        )  # fmt: skip
        collected = B.collect_sources([folder], recursive=True)
        checked = await B.check_sources(collected.sources, spec)
        mark("checked")
        plan = B.plan_batch(settings, checked, ignored=collected.ignored)
        batch_id = B.create_batch(store, plan)
        mark("planned")
        progress = await B.BatchRunner(store, runner, batch_id).run()
        mark("ran")
        await runner.aclose()
    store.close()
    return progress, marks


def make_photos(folder: Path, n: int) -> None:
    from tests.batch.conftest import make_shoot

    make_shoot(folder, count=n)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=int, default=200)
    ap.add_argument("--limit", type=int, default=50, help="the emulator's concurrency limit")
    ap.add_argument("--model", default="v4", help="v4 makes ~1 MP results (the smallest)")
    ap.add_argument("--tracemalloc", action="store_true", help="also the Python heap peak (slower)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="rhdesk-bench-batch-") as tmp:
        tmp_path = Path(tmp)
        make_photos(tmp_path / "photos", args.photos)
        emu = subprocess.Popen(
            [sys.executable, "-c", EMULATOR, str(args.limit)], cwd=ROOT, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip
        assert emu.stdout is not None and emu.stdin is not None
        base_url = json.loads(emu.stdout.readline())["url"]
        rss_before = rss_mb()
        if args.tracemalloc:
            tracemalloc.start()
        try:
            progress, marks = asyncio.run(
                run_batch(
                    tmp_path / "photos",
                    tmp_path / "out",
                    tmp_path / "data",
                    base_url,
                    args.model,
                    args.limit,
                )  # fmt: skip
            )
        finally:
            emu.stdin.close()
            stats = json.loads(emu.stdout.readline() or "{}")
            emu.wait(10)
        heap_peak = tracemalloc.get_traced_memory()[1] / 2**20 if args.tracemalloc else None
        out_files = [p for p in (tmp_path / "out").rglob("*.png")]
        out_mb = sum(p.stat().st_size for p in out_files) / 2**20

    n = progress.done
    t0, c0 = marks["start"]
    tc, cc = marks["checked"]
    tp, cp = marks["planned"]
    tr, cr = marks["ran"]
    print(f"photos: {args.photos}, done: {n}, failed: {progress.failed}, "
          f"submits: {stats.get('submits')}, max concurrent on the server: "
          f"{stats.get('max_concurrent')} (limit {args.limit})")  # fmt: skip
    print(f"results: {len(out_files)} files, {out_mb:.0f} MB")
    print(f"check (decode every photo): {tc - t0:6.2f} s wall, {cc - c0:6.2f} s CPU")
    print(f"plan + store:               {tp - tc:6.2f} s wall, {cp - cc:6.2f} s CPU")
    print(f"run (upload → download):    {tr - tp:6.2f} s wall, {cr - cp:6.2f} s CPU")
    total_wall, total_cpu = tr - t0, cr - c0
    print(f"per photo, end to end:      {1000 * total_wall / max(1, n):6.1f} ms wall, "
          f"{1000 * total_cpu / max(1, n):6.1f} ms CPU (client only)")  # fmt: skip
    print(f"throughput:                 {60 * n / (tr - tp):6.0f} photos/min while running")
    print(f"peak RSS: {rss_mb():.0f} MB (before the batch: {rss_before:.0f} MB)")
    if heap_peak is not None:
        print(f"Python heap peak (tracemalloc): {heap_peak:.1f} MB")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("RHDESK_DATA_DIR", tempfile.mkdtemp(prefix="rhdesk-bench-data-"))
    sys.exit(main())
