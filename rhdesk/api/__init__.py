"""The RunningHub client: async, Qt-free, and the only package in rhdesk that imports httpx.

Names are loaded on first use: importing `rhdesk.api.errors` (as the window does at start-up)
must not pay for importing httpx.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RunningHubClient": "rhdesk.api.client",
    "SITES": "rhdesk.api.sites",
    "resolve_base_url": "rhdesk.api.sites",
    "check_url_allowed": "rhdesk.api.urlpolicy",
    **{
        name: "rhdesk.api.errors"
        for name in (
            "AuthError", "BadParameterError", "BalanceError", "ConcurrencyLimitError",
            "ContentRefusedError", "DownloadRejectedError", "InsecureURLError", "NetworkError",
            "OutcomeUnknownError", "ProtocolError", "RequestNeverSentError", "ResultExpiredError",
            "RunningHubError", "ServerBusyError", "SubmitReplyUnreadableError", "TaskFailedError",
            "TaskNotFoundError",
        )
    },
    **{
        name: "rhdesk.api.types"
        for name in (
            "AccountStatus", "PricePreview", "QueueStatus", "ResultFile", "TaskState",
            "TaskStatus", "UploadResult", "Usage",
        )
    },
}  # fmt: skip

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rhdesk.api' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
