"""The typed error hierarchy of the RunningHub client.

Every error keeps the server's code and text (`code`, `server_message`) and says in plain words
what the user can do (`advice`). `str(err)` is the one-line message shown to a person; it never
contains the API key.
"""

from __future__ import annotations


class RunningHubError(Exception):
    """Base class. `retryable` says whether trying the same call again later can help."""

    default_message = "RunningHub reported an error."
    advice = ""
    retryable = False

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | int | None = None,
        server_message: str | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.code = None if code is None else str(code)
        self.server_message = server_message or ""
        self.http_status = http_status
        self.retry_after = retry_after
        self.message = message or self.default_message
        super().__init__(self.message)

    def __str__(self) -> str:
        parts = [self.message]
        if self.advice:
            parts.append(self.advice)
        detail = []
        if self.code:
            detail.append(f"code {self.code}")
        if self.server_message and self.server_message not in self.message:
            detail.append(self.server_message)
        text = " ".join(parts)
        return f"{text} ({': '.join(detail)})" if detail else text


class AuthError(RunningHubError):
    default_message = "The API key was not accepted."
    advice = "Check the key in Settings, and that it belongs to this site (runninghub.cn or .ai)."


class BalanceError(RunningHubError):
    default_message = "The account balance is too low for this task."
    advice = "Top up your RunningHub wallet, then run again."


class ConcurrencyLimitError(RunningHubError):
    default_message = "The account is already running as many tasks as it may."
    advice = "The task waits and is sent again when a running task finishes."
    retryable = True


class ContentRefusedError(RunningHubError):
    default_message = "The model refused this content."
    advice = "Change the prompt or the images (real people's faces are often refused)."


class BadParameterError(RunningHubError):
    default_message = "RunningHub rejected a parameter of this task."
    advice = "Check the size, the prompt and the images against the model's limits."


class TaskNotFoundError(RunningHubError):
    default_message = "RunningHub does not know this task."
    advice = (
        "It may belong to another site or key, or be too old; its call record may still show it."
    )


class ServerBusyError(RunningHubError):
    default_message = "RunningHub is busy right now."
    advice = "It will be tried again shortly."
    retryable = True


class NetworkError(RunningHubError):
    default_message = "RunningHub could not be reached."
    advice = "Check the internet connection (and any proxy); it will be tried again."
    retryable = True


class RequestNeverSentError(NetworkError):
    """The connection failed before any byte of the request left: safe to retry even a submit."""


class OutcomeUnknownError(NetworkError):
    """The request may have reached the server but no reply came: a submit may have created a task."""

    default_message = (
        "The connection dropped after the task was sent; RunningHub may have started it."
    )
    advice = "Check the call record on RunningHub before running it again."
    retryable = False


class ProtocolError(RunningHubError):
    default_message = "RunningHub sent a reply rhdesk does not understand."
    advice = "Try again later; if it persists, rhdesk may need an update."
    retryable = True


class SubmitReplyUnreadableError(ProtocolError, OutcomeUnknownError):
    """A submit was answered, but without a task id rhdesk can read: a paid task may exist.

    Both a ProtocolError (the reply is garbage) and an OutcomeUnknownError (so a caller that
    handles "may have started" handles this too); never retryable.
    """

    default_message = (
        "RunningHub answered the task submission with a reply rhdesk cannot read; "
        "it may have started the task."
    )
    advice = "Check the call record on RunningHub before running it again."
    retryable = False


class TaskFailedError(RunningHubError):
    default_message = "The task failed on RunningHub."
    advice = "Try again, or change the prompt or images."


class ResultExpiredError(RunningHubError):
    default_message = "The result link has expired before it could be downloaded."
    advice = "Results are kept for about a day; run the task again to get a new one."


class InsecureURLError(RunningHubError):
    default_message = "Refusing plain http:// to a host that is not this computer."
    advice = "Use https://, or http:// only for 127.0.0.1 / localhost."


class DownloadRejectedError(RunningHubError):
    default_message = "The downloaded result was refused."
    advice = "It was too large or not an image; run the task again."


# Legacy envelope codes and v2 errorCode strings -> error class (see ../shared/runninghub-api.md).
CODE_MAP: dict[str, type[RunningHubError]] = {
    "301": BadParameterError,
    "415": ServerBusyError,
    "416": BalanceError,
    "421": ConcurrencyLimitError,
    "423": TaskNotFoundError,
    "807": TaskNotFoundError,
    "401": AuthError,
    "801": AuthError,
    "802": AuthError,
    "805": TaskFailedError,
    "808": ServerBusyError,
    "809": BadParameterError,
    "811": AuthError,
    "812": BalanceError,
    "814": ConcurrencyLimitError,
    "500": ServerBusyError,
    "1000": TaskFailedError,
    "1003": ServerBusyError,
    "1007": TaskNotFoundError,
    "1011": ServerBusyError,
    "1014": AuthError,
    "1505": ContentRefusedError,
    "1520": ConcurrencyLimitError,
    "1601": AuthError,
}

# Plain-words messages for codes whose class message is too generic.
CODE_MESSAGES: dict[str, str] = {
    "415": "No free machine is available for this model right now.",
    "801": "Free accounts cannot use API keys.",
    "802": "The API key is not authorised or has expired.",
    "809": "A file is too large for RunningHub.",
    "811": "The enterprise API key is not valid.",
    "812": "The enterprise balance is too low.",
    "814": "Your personal queue on RunningHub is full (1000 tasks).",
    "1003": "RunningHub asks to slow down.",
    "1011": "The model is busy right now.",
    "1014": "This model needs an enterprise-shared API key.",
    "1505": "The model refused the content (often: photos of real people).",
    "1520": "Your account's concurrency limit is reached.",
}


def error_for_code(
    code: str | int | None,
    server_message: str | None = None,
    *,
    http_status: int | None = None,
    default: type[RunningHubError] = RunningHubError,
) -> RunningHubError:
    key = "" if code is None else str(code).strip()
    cls = CODE_MAP.get(key, default)
    text = (server_message or "").lower()
    if cls is default:
        if any(w in text for w in ("apikey", "api key", "unauthor", "verification failed")):
            cls = AuthError
        elif "balance" in text or "余额" in text:
            cls = BalanceError
    return cls(
        CODE_MESSAGES.get(key),
        code=key or None,
        server_message=server_message,
        http_status=http_status,
    )
