"""The RunningHub calls rhdesk makes, with tolerant parsing into `rhdesk.api.types`.

Reply shapes vary (see /work/shared/runninghub-api.md): `message` or `msg`, statuses in any case,
numbers as strings, `data`/`results`/`usage` null. Anything that cannot be read is a
ProtocolError, never a guess; an unknown task status is an error, never "keep polling".
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx

from rhdesk.api.errors import (
    AuthError,
    ProtocolError,
    RunningHubError,
    SubmitReplyUnreadableError,
    TaskNotFoundError,
    error_for_code,
)
from rhdesk.api.sites import SITES, resolve_base_url
from rhdesk.api.transport import (
    UPLOAD_READ_TIMEOUT_MIN,
    DownloadProgress,
    MultipartFile,
    RetryPolicy,
    Sleep,
    Transport,
    UploadProgress,
    check_url_allowed,
    error_for_response,
    server_text,
)
from rhdesk.api.types import (
    AccountStatus,
    PricePreview,
    QueueStatus,
    ResultFile,
    TaskState,
    TaskStatus,
    UploadResult,
    Usage,
    to_float,
    to_int,
)

log = logging.getLogger("rhdesk.api")

T = TypeVar("T")

V2 = "/openapi/v2"
UPLOAD_PATH = f"{V2}/media/upload/binary"
QUERY_PATH = f"{V2}/query"
QUEUE_STATUS_PATH = f"{V2}/queue/status"
PRICE_PREVIEW_PATH = f"{V2}/price-preview"
CANCEL_PATH = "/task/openapi/cancel"
ACCOUNT_STATUS_PATH = "/uc/openapi/accountStatus"

# An intermittent 401 on upload with a good key is reported; a retry seconds later worked.
UPLOAD_AUTH_RETRY_DELAY = 1.5
TASK_NOT_FOUND_CODE = "1007"
DEFAULT_DOWNLOAD_MAX_BYTES = 200 * 1024 * 1024

# "seedream-v4.5/image-to-image": path segments only, so that a catalogue entry can never point
# the request (and the Bearer key) somewhere else.
_ENDPOINT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*")
_KEY_RE = re.compile(r"[\x21-\x7e]+")


def _check_endpoint(endpoint: str) -> str:
    text = str(endpoint).strip().strip("/")
    if not _ENDPOINT_RE.fullmatch(text) or ".." in text.split("/"):
        raise ValueError(f"not a RunningHub model endpoint: {endpoint!r}")
    return text


def _check_task_id(task_id: str) -> str:
    text = str(task_id).strip()
    if not text:
        raise ValueError("task_id is empty")
    return text


def _opt_str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _task_id(value: Any) -> str:
    # Task ids are strings of digits; tolerate a number, refuse anything else.
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ProtocolError("RunningHub sent a task id that is not text.")


def _failed_reason(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, dict):
        for name in ("exception_message", "exceptionMessage", "message", "msg", "reason"):
            if value.get(name):
                return str(value[name])
        return json.dumps(value, ensure_ascii=False, sort_keys=True)[:2000]
    return str(value)


def _results(value: Any) -> tuple[ResultFile, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ProtocolError("RunningHub sent task results that are not a list.")
    files = []
    for item in value:
        if not isinstance(item, dict):
            raise ProtocolError("RunningHub sent a task result that is not an object.")
        url = item.get("url")
        text = item.get("text")
        if url is not None and not isinstance(url, str):
            raise ProtocolError("RunningHub sent a result link that is not text.")
        if not url and not text:
            raise ProtocolError("RunningHub sent a task result without a link or text.")
        files.append(
            ResultFile(
                url=url or "",
                output_type=str(item.get("outputType") or ""),
                text=_opt_str(text),
                node_id=_opt_str(item.get("nodeId")),
            )
        )
    return tuple(files)


class RunningHubClient:
    """Async client for RunningHub's OpenAPI. Use `async with`, or call `aclose()`.

    `sleep` (default asyncio.sleep) and `rng` exist so tests can run retries instantly and
    assert the chosen delays.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = SITES["cn"],
        *,
        timeout: float = 30.0,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        download_max_bytes: int = DEFAULT_DOWNLOAD_MAX_BYTES,
        sleep: Sleep | None = None,
        rng: random.Random | None = None,
    ) -> None:
        key = api_key.strip() if isinstance(api_key, str) else ""
        # Checked here so that a pasted key with a space or a non-ASCII character fails with a
        # clear message instead of an encoding error deep in httpx that could quote it.
        if not _KEY_RE.fullmatch(key):
            raise AuthError("The API key is empty or contains spaces or unusual characters.")
        self._api_key = key
        self.base_url = resolve_base_url(base_url)
        self.download_max_bytes = download_max_bytes
        self._http = Transport(
            secret=key,
            timeout=timeout,
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
            transport=transport,
            sleep=sleep,
            rng=rng,
        )

    def __repr__(self) -> str:
        return f"RunningHubClient(base_url={self.base_url!r})"

    @property
    def sleep(self) -> Sleep:
        return self._http.sleep

    @sleep.setter
    def sleep(self, value: Sleep) -> None:
        self._http.sleep = value

    @property
    def closed(self) -> bool:
        return self._http.closed

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> RunningHubClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- helpers --------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"}

    def _text(self, d: dict[str, Any], *names: str) -> str:
        return self._http.redact(server_text(d, *names))

    def _json_object(self, response: httpx.Response) -> dict[str, Any]:
        if not response.is_success:
            raise error_for_response(response)
        try:
            body = response.json()
        except (ValueError, UnicodeDecodeError):
            raise ProtocolError("RunningHub sent a reply that is not JSON.") from None
        if not isinstance(body, dict):
            raise ProtocolError("RunningHub sent a reply that is not a JSON object.")
        return body

    def _envelope_error(self, body: dict[str, Any], status: int) -> RunningHubError | None:
        """The error carried by a `{code, message|msg, data}` envelope, or None for code 0."""
        raw_code = body.get("code")
        code = to_int(raw_code)
        if code is None:
            raise ProtocolError("RunningHub sent a reply without a valid result code.")
        if code == 0:
            return None
        return error_for_code(
            str(raw_code).strip(), self._text(body, "message", "msg"), http_status=status
        )

    def _envelope_data(self, response: httpx.Response) -> Any:
        body = self._json_object(response)
        err = self._envelope_error(body, response.status_code)
        if err is not None:
            raise err
        return body.get("data")

    async def _call(
        self,
        method: str,
        path: str,
        *,
        policy: RetryPolicy,
        parse: Callable[[httpx.Response], T],
        json_body: Any = None,
        bearer: bool = True,
    ) -> T:
        url = self._url(path)

        async def attempt(_n: int) -> T:
            response = await self._http.send(
                method,
                url,
                policy=policy,
                headers=self._bearer() if bearer else None,
                json=json_body,
            )
            return parse(response)

        return await self._http.run(attempt, policy=policy, what=f"{method} {path}")

    # -- upload ---------------------------------------------------------------------------------

    async def upload(
        self,
        data: bytes,
        filename: str,
        content_type: str = "image/png",
        progress: UploadProgress | None = None,
    ) -> UploadResult:
        """Upload one file; its `download_url` goes into a task's `imageUrls` (valid ~1 day)."""
        body = MultipartFile("file", filename, content_type, bytes(data))
        url = self._url(UPLOAD_PATH)
        headers = {
            **self._bearer(),
            "Content-Type": body.content_type,
            # An explicit length stops httpx from chunking the streamed body.
            "Content-Length": str(body.length),
        }
        timeout = self._http.make_timeout(read=max(self._http.timeout, UPLOAD_READ_TIMEOUT_MIN))
        auth_retried = False

        def retry_auth_once(err: RunningHubError) -> float | None:
            nonlocal auth_retried
            if isinstance(err, AuthError) and not auth_retried:
                auth_retried = True
                return UPLOAD_AUTH_RETRY_DELAY
            return None

        async def attempt(_n: int) -> UploadResult:
            response = await self._http.send(
                "POST",
                url,
                policy=RetryPolicy.READ,
                headers=headers,
                content=body.stream(progress),
                timeout=timeout,
            )
            return self._parse_upload(response)

        return await self._http.run(
            attempt, policy=RetryPolicy.READ, what="upload", extra_retry=retry_auth_once
        )

    def _parse_upload(self, response: httpx.Response) -> UploadResult:
        data = self._envelope_data(response)
        if not isinstance(data, dict):
            raise ProtocolError("RunningHub confirmed the upload without describing the file.")
        url = data.get("download_url") or data.get("downloadUrl") or data.get("url")
        if not isinstance(url, str) or not url:
            raise ProtocolError("RunningHub confirmed the upload without a link to the file.")
        return UploadResult(
            download_url=url,
            file_name=str(data.get("fileName") or data.get("file_name") or ""),
            size=to_int(data.get("size")),
            type=str(data.get("type") or "image"),
        )

    # -- tasks ----------------------------------------------------------------------------------

    async def submit(self, endpoint: str, body: dict[str, Any]) -> TaskState:
        """Start a paid task. Never repeated once the request may have reached the server.

        Raises OutcomeUnknownError when it may have started a task without saying so
        (SubmitReplyUnreadableError, a subclass of both ProtocolError and OutcomeUnknownError,
        when the server answered 2xx with something unreadable).
        """
        path = f"{V2}/{_check_endpoint(endpoint)}"
        return await self._call(
            "POST", path, policy=RetryPolicy.PAID, parse=self._parse_submit, json_body=body
        )

    def _parse_submit(self, response: httpx.Response) -> TaskState:
        if not response.is_success:
            raise error_for_response(response)
        try:
            body = self._json_object(response)
            state = self._task_state(body, response.status_code, submitting=True)
        except ProtocolError as err:
            # The server took the request: a task may exist even though we cannot read its id.
            raise SubmitReplyUnreadableError(server_message=err.message) from err
        return state

    async def query(self, task_id: str) -> TaskState:
        """One poll. A FAILED task is returned (with its error fields), not raised."""
        body = {"taskId": _check_task_id(task_id)}
        return await self._call(
            "POST", QUERY_PATH, policy=RetryPolicy.READ, parse=self._parse_query, json_body=body
        )

    def _parse_query(self, response: httpx.Response) -> TaskState:
        body = self._json_object(response)
        return self._task_state(body, response.status_code, submitting=False)

    def _task_state(self, d: dict[str, Any], status: int, *, submitting: bool) -> TaskState:
        if "taskId" not in d and "code" in d:
            # Some failures come in the legacy envelope instead of the flat task shape.
            err = self._envelope_error(d, status)
            if err is not None:
                raise err
            if isinstance(d.get("data"), dict):
                d = d["data"]
        task_id = _task_id(d.get("taskId"))
        code = str(d.get("errorCode") or "").strip()
        message = self._text(d, "errorMessage")
        raw_status = d.get("status")
        try:
            task_status: TaskStatus | None = TaskStatus.parse(raw_status)
        except ValueError:
            task_status = None

        if submitting:
            if code or message:
                raise error_for_code(code or None, message, http_status=status)
            if not task_id:
                raise ProtocolError("RunningHub accepted the task but sent no task id.")
            if task_status is None:
                # The id is what matters after a paid submit; polling will tell the real state.
                log.debug("submit reply with unreadable status; treating as CREATE")
                task_status = TaskStatus.CREATE
        else:
            if code == TASK_NOT_FOUND_CODE:
                raise TaskNotFoundError(code=code, server_message=message, http_status=status)
            if not task_id:
                err = error_for_code(
                    code or None, message, http_status=status, default=TaskNotFoundError
                )
                # Only a key problem is worth saying instead of "not found" here.
                raise (
                    err
                    if isinstance(err, AuthError)
                    else TaskNotFoundError(
                        code=code or None, server_message=message, http_status=status
                    )
                )
            if task_status is None:
                if code or message:
                    raise error_for_code(code or None, message, http_status=status)
                shown = self._http.redact(str(raw_status))[:40]
                raise ProtocolError(f"RunningHub sent an unknown task status {shown!r}.")

        try:
            results = _results(d.get("results"))
        except ProtocolError:
            if not submitting:
                raise
            # Results are not expected yet at submit; the task id must not be lost over them.
            results = ()
        return TaskState(
            task_id=task_id,
            status=task_status,
            results=results,
            error_code=code,
            error_message=message,
            failed_reason=self._http.redact(_failed_reason(d.get("failedReason"))),
            usage=Usage.parse(d.get("usage")),
            raw=d,
        )

    async def cancel(self, task_id: str) -> None:
        """Ask RunningHub to cancel (legacy endpoint; whether model tasks stop is undocumented)."""
        body = {"apiKey": self._api_key, "taskId": _check_task_id(task_id)}
        await self._call(
            "POST",
            CANCEL_PATH,
            policy=RetryPolicy.PAID,
            parse=self._envelope_data,
            json_body=body,
            bearer=False,
        )

    # -- account, capacity, price ---------------------------------------------------------------

    async def account_status(self) -> AccountStatus:
        data = await self._call(
            "POST",
            ACCOUNT_STATUS_PATH,
            policy=RetryPolicy.READ,
            parse=self._envelope_data,
            # Lower-case `apikey` on this endpoint only, as documented.
            json_body={"apikey": self._api_key},
            bearer=False,
        )
        d = self._data_object(data)
        return AccountStatus(
            remain_coins=to_int(d.get("remainCoins")),
            current_task_counts=to_int(d.get("currentTaskCounts")),
            remain_money=to_float(d.get("remainMoney")),
            currency=_opt_str(d.get("currency")),
            api_type=_opt_str(d.get("apiType")),
        )

    async def queue_status(self) -> QueueStatus:
        data = await self._call(
            "GET", QUEUE_STATUS_PATH, policy=RetryPolicy.READ, parse=self._envelope_data
        )
        d = self._data_object(data)
        return QueueStatus(
            api_key_type=_opt_str(d.get("apiKeyType")),
            concurrent_limit=to_int(d.get("concurrentLimit")),
            running_count=to_int(d.get("runningCount")),
            queued_count=to_int(d.get("queuedCount")),
        )

    async def price_preview(self, endpoint: str, body: dict[str, Any]) -> PricePreview:
        path = f"{PRICE_PREVIEW_PATH}/{_check_endpoint(endpoint)}"
        d = await self._call(
            "POST", path, policy=RetryPolicy.READ, parse=self._parse_price, json_body=body
        )
        return PricePreview(
            estimated_price=to_float(d.get("estimatedPrice")),
            currency=_opt_str(d.get("currency")),
            price_text=_opt_str(d.get("priceText")),
        )

    def _parse_price(self, response: httpx.Response) -> dict[str, Any]:
        body = self._json_object(response)
        if "code" in body and "estimatedPrice" not in body:
            err = self._envelope_error(body, response.status_code)
            if err is not None:
                raise err
            return self._data_object(body.get("data"))
        code = str(body.get("errorCode") or "").strip()
        message = self._text(body, "errorMessage")
        if code or message:
            raise error_for_code(code or None, message, http_status=response.status_code)
        return body

    @staticmethod
    def _data_object(data: Any) -> dict[str, Any]:
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise ProtocolError("RunningHub sent `data` that is not an object.")
        return data

    # -- download -------------------------------------------------------------------------------

    async def download(
        self,
        url: str,
        dest: Path,
        progress: DownloadProgress | None = None,
    ) -> int:
        """Stream a result link to `dest` (a temporary path the caller renames); bytes written.

        On any failure `dest` is removed, so a half-written file is never mistaken for a result.
        """
        check_url_allowed(url)
        dest = Path(dest)

        async def attempt(_n: int) -> int:
            return await self._http.download_once(
                url, dest, max_bytes=self.download_max_bytes, progress=progress
            )

        try:
            return await self._http.run(attempt, policy=RetryPolicy.READ, what="download")
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
