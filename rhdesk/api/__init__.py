"""The RunningHub client: async, Qt-free, and the only package in rhdesk that imports httpx."""

from __future__ import annotations

from rhdesk.api.client import RunningHubClient
from rhdesk.api.errors import (
    AuthError,
    BadParameterError,
    BalanceError,
    ConcurrencyLimitError,
    ContentRefusedError,
    DownloadRejectedError,
    InsecureURLError,
    NetworkError,
    OutcomeUnknownError,
    ProtocolError,
    RequestNeverSentError,
    ResultExpiredError,
    RunningHubError,
    ServerBusyError,
    SubmitReplyUnreadableError,
    TaskFailedError,
    TaskNotFoundError,
)
from rhdesk.api.sites import SITES, resolve_base_url
from rhdesk.api.transport import check_url_allowed
from rhdesk.api.types import (
    AccountStatus,
    PricePreview,
    QueueStatus,
    ResultFile,
    TaskState,
    TaskStatus,
    UploadResult,
    Usage,
)

__all__ = [
    "SITES",
    "AccountStatus",
    "AuthError",
    "BadParameterError",
    "BalanceError",
    "ConcurrencyLimitError",
    "ContentRefusedError",
    "DownloadRejectedError",
    "InsecureURLError",
    "NetworkError",
    "OutcomeUnknownError",
    "PricePreview",
    "ProtocolError",
    "QueueStatus",
    "RequestNeverSentError",
    "ResultExpiredError",
    "ResultFile",
    "RunningHubClient",
    "RunningHubError",
    "ServerBusyError",
    "SubmitReplyUnreadableError",
    "TaskFailedError",
    "TaskNotFoundError",
    "TaskState",
    "TaskStatus",
    "UploadResult",
    "Usage",
    "check_url_allowed",
    "resolve_base_url",
]
