"""Typed progress events of the task pipeline (no Qt: the GUI re-emits them as signals)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class TaskEvent:
    task_id: int
    status: str  # one of rhdesk.store.db's states (pending, preparing, uploading, ...)
    message: str = ""  # plain words for a person
    remote_id: str | None = None
    remote_status: str | None = None
    elapsed: float | None = None  # seconds since submit (queued/running)
    upload_index: int | None = None  # 1-based image being uploaded
    upload_count: int | None = None
    upload_sent: int | None = None  # bytes of the current image
    upload_total: int | None = None
    results: tuple[Path, ...] = field(default_factory=tuple)
    error: str | None = None  # one-line error for a person, with what to do
    error_code: str | None = None
    final: bool = False

    @property
    def upload_fraction(self) -> float | None:
        if not self.upload_count or self.upload_index is None:
            return None
        part = (self.upload_sent or 0) / self.upload_total if self.upload_total else 0.0
        return min(1.0, ((self.upload_index - 1) + part) / self.upload_count)
