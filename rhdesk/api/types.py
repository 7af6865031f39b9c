"""Typed results of RunningHub calls. Parsing is tolerant: strings for numbers, any status case."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


# A str mixin rather than StrEnum: StrEnum would change str(status), which other layers may store.
class TaskStatus(str, Enum):  # noqa: UP042
    CREATE = "CREATE"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    CANCEL = "CANCEL"

    @property
    def is_final(self) -> bool:
        return self in (TaskStatus.SUCCESS, TaskStatus.FAILED, TaskStatus.CANCEL)

    @classmethod
    def parse(cls, value: Any) -> TaskStatus:
        """Case-insensitive; 'CANCELLED'/'CANCELED' count as CANCEL. Unknown values raise ValueError."""
        text = str(value or "").strip().upper()
        if text in ("CANCELLED", "CANCELED"):
            text = "CANCEL"
        return cls(text)


def to_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def to_float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class UploadResult:
    download_url: str
    file_name: str
    size: int | None
    type: str = "image"


@dataclass(frozen=True)
class Usage:
    consume_money: float | None = None
    third_party_consume_money: float | None = None
    consume_coins: float | None = None
    task_cost_time: float | None = None  # seconds as reported

    @classmethod
    def parse(cls, d: Any) -> Usage | None:
        if not isinstance(d, dict):
            return None
        return cls(
            consume_money=to_float(d.get("consumeMoney")),
            third_party_consume_money=to_float(d.get("thirdPartyConsumeMoney")),
            consume_coins=to_float(d.get("consumeCoins")),
            task_cost_time=to_float(d.get("taskCostTime")),
        )


@dataclass(frozen=True)
class ResultFile:
    url: str
    output_type: str  # "png", "jpg", ... (from the server: never trust as a path)
    text: str | None = None
    node_id: str | None = None


@dataclass(frozen=True)
class TaskState:
    """A submit or query reply."""

    task_id: str
    status: TaskStatus
    results: tuple[ResultFile, ...] = ()
    error_code: str = ""
    error_message: str = ""
    failed_reason: str = ""
    usage: Usage | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class AccountStatus:
    remain_coins: int | None
    current_task_counts: int | None
    remain_money: float | None
    currency: str | None
    api_type: str | None


@dataclass(frozen=True)
class QueueStatus:
    api_key_type: str | None
    concurrent_limit: int | None
    running_count: int | None
    queued_count: int | None


@dataclass(frozen=True)
class PricePreview:
    estimated_price: float | None
    currency: str | None
    price_text: str | None
