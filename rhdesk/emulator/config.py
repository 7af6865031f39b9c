"""Configuration and fault injection for the RunningHub emulator."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FAULT_ENDPOINTS = frozenset(
    {"upload", "submit", "query", "cancel", "account", "queue", "price", "download", "*"}
)
# Faults that change how one HTTP request is answered.
REQUEST_FAULT_KINDS = frozenset(
    {
        "latency",
        "http_status",
        "rate_limit",
        "drop",
        "drop_after",
        "malformed",
        "api_error",
        "slow_body",
    }
)
# Faults that change what happens to a task rather than to a request.
TASK_FAULT_KINDS = frozenset({"fail_task", "expired_links"})
FAULT_KINDS = REQUEST_FAULT_KINDS | TASK_FAULT_KINDS


@dataclass(frozen=True)
class EmulatorConfig:
    api_keys: frozenset[str] = frozenset({"demo-key"})
    queue_seconds: float = 0.2
    run_seconds: float = 0.5
    concurrency_limit: int = 3
    coins: int = 100_000
    coins_per_image: int = 20
    result_ttl_seconds: float = 86_400
    upload_ttl_seconds: float = 86_400
    cancel_model_tasks: bool = False
    output_format: str = "png"
    host: str = "127.0.0.1"
    port: int = 0
    max_upload_bytes: int = 30 * 1024 * 1024
    api_key_type: str = "NORMAL"

    def __post_init__(self) -> None:
        if not self.api_keys:
            raise ValueError("EmulatorConfig needs at least one API key")
        if self.output_format not in ("png", "jpg"):
            raise ValueError(f"output_format must be 'png' or 'jpg', not {self.output_format!r}")
        # Accept any iterable of keys (a set, a list) while keeping the field hashable.
        object.__setattr__(self, "api_keys", frozenset(self.api_keys))


@dataclass(init=False)
class Fault:
    """One injected misbehaviour; see the module docs of `rhdesk.emulator` for the kinds.

    `times` is how many requests (or, for task faults, tasks) it hits; None means until cleared.
    Extra keyword arguments are the kind's parameters (seconds=, status=, retry_after=, code=,
    message=, error_code=, body=, content_type=).
    """

    endpoint: str
    kind: str
    times: int | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def __init__(self, endpoint: str, kind: str, times: int | None = None, **params: Any) -> None:
        if endpoint not in FAULT_ENDPOINTS:
            raise ValueError(
                f"unknown fault endpoint {endpoint!r}; one of {sorted(FAULT_ENDPOINTS)}"
            )
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {sorted(FAULT_KINDS)}")
        if times is not None and times < 1:
            raise ValueError("times must be None or at least 1")
        self.endpoint = endpoint
        self.kind = kind
        self.times = times
        self.params = dict(params)

    def matches(self, endpoint: str) -> bool:
        return self.endpoint in ("*", endpoint)

    def get(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)
