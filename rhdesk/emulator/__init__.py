"""A RunningHub-compatible HTTP server for `rhdesk --demo` and for tests (no Qt).

    with Emulator(EmulatorConfig(api_keys=frozenset({"k"}))) as emu:
        httpx.post(f"{emu.base_url}/openapi/v2/query", ...)

It speaks the shapes in runninghub-api.md: enveloped upload/account/queue/price/cancel replies,
flat submit/query replies, signed expiring file links served like a CDN (Aliyun OSS errors).

Faults (`Fault(endpoint, kind, times=None, **params)`) are matched in insertion order, first
match wins; a fault whose `times` runs out is removed. Request faults (latency, http_status,
rate_limit, drop, drop_after, malformed, api_error) are matched against the endpoint of each
request. Task faults are matched separately: `fail_task` when a task is accepted (endpoint
"submit" or "*"), `expired_links` when a task completes (any endpoint), and `times` then counts
tasks.
"""

from __future__ import annotations

from rhdesk.emulator.cli import serve_forever
from rhdesk.emulator.config import EmulatorConfig, Fault
from rhdesk.emulator.emulator import Emulator

__all__ = ["Emulator", "EmulatorConfig", "Fault", "serve_forever"]
