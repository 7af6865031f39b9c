"""The typed error hierarchy of the RunningHub client.

Every error keeps the server's code and text (`code`, `server_message`) and says in plain words
what the user can do (`advice`). `str(err)` is the one-line message shown to a person; it never
contains the API key.

Messages are English source text marked with `N_` and translated with `_` when an error is made
or shown (`rhdesk.i18n.core`, Qt-free), so the window shows them in the user's language.
"""

from __future__ import annotations

from rhdesk.i18n.core import N_, _


class RunningHubError(Exception):
    """Base class. `retryable` says whether trying the same call again later can help."""

    default_message = N_("RunningHub reported an error.")
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
        # Our own text, never the server's, goes through the catalogue.
        self.message = _(message or self.default_message)
        super().__init__(self.message)

    def __str__(self) -> str:
        parts = [self.message]
        if self.advice:
            parts.append(_(self.advice))
        detail = []
        if self.code:
            detail.append(_("code {code}", code=self.code))
        if self.server_message and self.server_message not in self.message:
            detail.append(self.server_message)
        text = " ".join(parts)
        return f"{text} ({': '.join(detail)})" if detail else text


class AuthError(RunningHubError):
    default_message = N_("The API key was not accepted.")
    advice = N_(
        "Check the key in Settings, and that it belongs to this site (runninghub.cn or .ai)."
    )


class BalanceError(RunningHubError):
    default_message = N_("The account balance is too low for this task.")
    advice = N_("Top up your RunningHub wallet, then run again.")


class ConcurrencyLimitError(RunningHubError):
    default_message = N_("The account is already running as many tasks as it may.")
    advice = N_("The task waits and is sent again when a running task finishes.")
    retryable = True


class ContentRefusedError(RunningHubError):
    default_message = N_("The model refused this content.")
    advice = N_("Change the prompt or the images (real people's faces are often refused).")


class BadParameterError(RunningHubError):
    default_message = N_("RunningHub rejected a parameter of this task.")
    advice = N_("Check the size, the prompt and the images against the model's limits.")


class TaskNotFoundError(RunningHubError):
    default_message = N_("RunningHub does not know this task.")
    advice = N_(
        "It may belong to another site or key, or be too old; its call record may still show it."
    )


class ServerBusyError(RunningHubError):
    default_message = N_("RunningHub is busy right now.")
    advice = N_("It will be tried again shortly.")
    retryable = True


class NetworkError(RunningHubError):
    default_message = N_("RunningHub could not be reached.")
    advice = N_("Check the internet connection (and any proxy); it will be tried again.")
    retryable = True


class RequestNeverSentError(NetworkError):
    """The connection failed before any byte of the request left: safe to retry even a submit."""


class OutcomeUnknownError(NetworkError):
    """The request may have reached the server but no reply came: a submit may have created a task."""

    default_message = N_(
        "The connection dropped after the task was sent; RunningHub may have started it."
    )
    advice = N_("Check the call record on RunningHub before running it again.")
    retryable = False


class ProtocolError(RunningHubError):
    default_message = N_("RunningHub sent a reply rhdesk does not understand.")
    advice = N_("Try again later; if it persists, rhdesk may need an update.")
    retryable = True


class SubmitReplyUnreadableError(ProtocolError, OutcomeUnknownError):
    """A submit was answered, but without a task id rhdesk can read: a paid task may exist.

    Both a ProtocolError (the reply is garbage) and an OutcomeUnknownError (so a caller that
    handles "may have started" handles this too); never retryable.
    """

    default_message = N_(
        "RunningHub answered the task submission with a reply rhdesk cannot read; "
        "it may have started the task."
    )
    advice = N_("Check the call record on RunningHub before running it again.")
    retryable = False


class TaskFailedError(RunningHubError):
    default_message = N_("The task failed on RunningHub.")
    advice = N_("Try again, or change the prompt or images.")


class ResultExpiredError(RunningHubError):
    default_message = N_("The result link has expired before it could be downloaded.")
    advice = N_("Results are kept for about a day; run the task again to get a new one.")


class InsecureURLError(RunningHubError):
    default_message = N_("Refusing plain http:// to a host that is not this computer.")
    advice = N_("Use https://, or http:// only for 127.0.0.1 / localhost.")


class DownloadRejectedError(RunningHubError):
    default_message = N_("The downloaded result was refused.")
    advice = N_("It was too large or not an image; run the task again.")


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

# Every code in the API facts (../shared/runninghub-api.md) with what happened and what to do
# next, where the class's own words are too generic. Codes not listed here show the class
# message plus the code and the server's text (see RunningHubError.__str__).
CODE_MESSAGES: dict[str, str] = {
    "415": N_("No free machine is available for this model right now."),
    "500": N_("RunningHub reported an internal error."),
    "801": N_("Free accounts cannot use API keys."),
    "802": N_("The API key is not authorised or has expired."),
    "804": N_("The task is still running on RunningHub."),
    "808": N_("RunningHub could not store the uploaded image."),
    "809": N_("A file is too large for RunningHub."),
    "811": N_("The enterprise API key is not valid."),
    "812": N_("The enterprise balance is too low."),
    "813": N_("The task is queued on RunningHub."),
    "814": N_("Your personal queue on RunningHub is full (1000 tasks)."),
    "1000": N_("The task failed on RunningHub for an unknown reason."),
    "1003": N_("RunningHub asks to slow down."),
    "1011": N_("The model is busy right now."),
    "1014": N_("This model needs an enterprise-shared API key."),
    "1505": N_("The model refused the content (often: photos of real people)."),
    "1520": N_("Your account's concurrency limit is reached."),
    "1601": N_("The API key could not be verified."),
}

_LOWER_CONCURRENCY = N_(
    "The task waits and is sent when a running task finishes; lower the concurrency limit "
    "in Settings to stop hitting the limit."
)
_WAIT_AND_RETRY = N_("Wait a minute or two: rhdesk tries again by itself.")

# What to do next, per code, where it differs from the class's advice.
CODE_ADVICE: dict[str, str] = {
    "415": _WAIT_AND_RETRY,
    "421": _LOWER_CONCURRENCY,
    "500": N_("Wait a little, then run it again."),
    "801": N_("Upgrade your RunningHub account to use the API, then try again."),
    "802": N_("Check the key in Settings, or create a new one in RunningHub's API console."),
    "804": N_("Wait: rhdesk keeps checking until it finishes."),
    "808": N_("Check the connection, then run it again."),
    "809": N_("Use a smaller image (the model takes at most 10 MB per image)."),
    "811": N_("Check the key in Settings, or ask your organisation's administrator."),
    "812": N_("Ask your organisation's administrator to top up the enterprise wallet."),
    "813": N_("Wait: it starts when a machine is free."),
    "814": N_("Wait for your queued tasks to finish, then run again."),
    "1000": N_("Run it again; if it keeps failing, change the prompt or the images."),
    "1003": N_("Wait a moment: rhdesk slows down and tries again."),
    "1011": _WAIT_AND_RETRY,
    "1014": N_(
        "Use an enterprise-shared key from RunningHub's API console, or pick another model."
    ),
    "1505": N_("Change the prompt or the images, then run again."),
    "1520": _LOWER_CONCURRENCY,
    "1601": N_(
        "Check the key in Settings, and that it belongs to this site (runninghub.cn or .ai)."
    ),
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
    err = cls(
        CODE_MESSAGES.get(key),
        code=key or None,
        server_message=server_message,
        http_status=http_status,
    )
    if key in CODE_ADVICE:
        err.advice = CODE_ADVICE[key]  # shadows the class's advice for this error only
    return err
