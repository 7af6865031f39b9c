"""Export tasks to a folder: their results plus a JSON sidecar of everything needed to redo them."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from rhdesk.core.naming import safe_component
from rhdesk.store.db import Store, TaskRecord


def task_details(rec: TaskRecord) -> dict[str, Any]:
    return {
        "id": rec.id,
        "status": rec.status,
        "model": rec.endpoint,
        "prompt": rec.prompt,
        "width": rec.width,
        "height": rec.height,
        "sequential": rec.sequential,
        "max_images": rec.max_images,
        "remote_task_id": rec.remote_id,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(rec.created_at)),
        "finished": (
            time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(rec.finished_at))
            if rec.finished_at
            else None
        ),
        "inputs": [i.source_path for i in rec.inputs],
        "results": [str(p) for p in rec.result_paths],
        "cost_money": rec.cost_money,
        "cost_coins": rec.cost_coins,
        "error": rec.error_message,
        "starred": rec.starred,
        "note": rec.note,
    }


def export_tasks(store: Store, ids: list[int], folder: Path) -> list[Path]:
    """Copy each task's results into `folder` (never overwriting) with `<name>.json` beside them.
    Returns the files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for task_id in ids:
        rec = store.get(task_id)
        stem = safe_component(f"task-{rec.id}-{' '.join(rec.prompt.split()[:5])}")
        for src in rec.result_paths:
            if not src.exists():
                continue
            dest = _free(folder / f"{stem}-{src.name}")
            shutil.copy2(src, dest)
            written.append(dest)
        sidecar = _free(folder / f"{stem}.json")
        sidecar.write_text(
            json.dumps(task_details(rec), ensure_ascii=False, indent=2), encoding="utf-8"
        )
        written.append(sidecar)
    return written


def _free(path: Path) -> Path:
    n = 2
    candidate = path
    while candidate.exists():
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
        n += 1
    return candidate
