"""HTTP plumbing for the RunningHub client: the only module in rhdesk that touches httpx.

It owns the AsyncClient and its timeouts, the URL policy, the retry loop (exponential backoff with
full jitter, honouring Retry-After) and the translation of httpx exceptions and HTTP statuses into
the typed errors of `rhdesk.api.errors`. What a reply *means* is decided in `client.py`.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import random
import re
import secrets
import ssl
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import urlsplit

import httpx

from rhdesk import __version__
from rhdesk.api.errors import (
    AuthError,
    DownloadRejectedError,
    InsecureURLError,
    NetworkError,
    OutcomeUnknownError,
    ProtocolError,
    RequestNeverSentError,
    ResultExpiredError,
    RunningHubError,
    ServerBusyError,
    error_for_code,
)
from rhdesk.api.types import to_int
from rhdesk.api.urlpolicy import check_url_allowed, is_loopback_host  # noqa: F401 (re-exported)
from rhdesk.i18n.core import _

log = logging.getLogger("rhdesk.api")

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
UploadProgress = Callable[[int, int], None]
DownloadProgress = Callable[[int, int | None], None]

USER_AGENT = f"rhdesk/{__version__}"
CONNECT_TIMEOUT = 10.0
POOL_TIMEOUT = 10.0
# The server hashes and stores an upload before it answers; large files need more than a JSON call.
UPLOAD_READ_TIMEOUT_MIN = 60.0
# A server asking us to wait longer than this is treated as if it asked for this long: the user is
# watching a progress bar, and the caller can always try again later.
RETRY_AFTER_CAP = 120.0
CHUNK_SIZE = 64 * 1024
MAX_REDIRECTS = 5
# WebP needs 12 bytes ("RIFF" + size + "WEBP"); every other signature is shorter.
MAGIC_BYTES_NEEDED = 12


class RetryPolicy(Enum):
    """How far a call may be repeated.

    READ: repeating is harmless (queries, uploads, downloads): retry network errors, timeouts,
    HTTP 429/5xx and unreadable replies.
    PAID: the request may start paid work: retry only when it provably never left, or when the
    server refused it before doing anything (429, or 503 with Retry-After).
    """

    READ = "read"
    PAID = "paid"


# ---------------------------------------------------------------------------------------------
# URL policy


def loggable_url(url: httpx.URL | str) -> str:
    # Result links are often signed in their query string: log where, never the signature.
    u = httpx.URL(str(url))
    return f"{u.host}{u.path}"


# ---------------------------------------------------------------------------------------------
# TLS and proxies: the operating system's trust store and proxy settings


@lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """Verification always on, against the system's trust store: a company proxy that re-signs
    traffic with its own root (installed in the OS, not in certifi's bundle) then just works."""
    try:
        import truststore

        return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    except Exception as exc:  # an old OS or a broken native library: still verify, with certifi
        log.warning(
            "system trust store unavailable (%s: %s); using certifi's CA bundle",
            type(exc).__name__,
            exc,
        )
        import certifi

        return ssl.create_default_context(cafile=certifi.where())


def system_proxies() -> dict[str, str]:
    """`{"http": url, "https": url}` from the environment, the Windows registry or macOS's
    network settings (whichever urllib finds); "no" (the bypass list) is left to `proxy_bypass`."""
    try:
        found = urllib.request.getproxies()
    except Exception as exc:  # a malformed registry entry must not stop the app
        log.warning("could not read the system proxy settings: %s", type(exc).__name__)
        return {}
    return {k: v for k, v in found.items() if k in ("http", "https", "all") and v}


@lru_cache(maxsize=256)
def _bypasses_proxy(host: str) -> bool:
    try:
        # The platform's own rules: NO_PROXY, the registry's ProxyOverride, macOS exceptions.
        return bool(urllib.request.proxy_bypass(host))
    except Exception:
        return False


def _proxy_shown(url: str) -> str:
    # Proxy URLs may carry a user name and password: log where, never who.
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}"


class SystemProxyTransport(httpx.AsyncBaseTransport):
    """Sends each request through the system's proxy for its scheme, or directly when the
    system says to bypass it; loopback (the emulator, local tools) always goes directly.

    A transport rather than httpx `mounts`, because Windows and macOS keep their bypass lists in
    forms only `urllib.request.proxy_bypass` understands."""

    def __init__(self, proxies: Mapping[str, str], verify: ssl.SSLContext) -> None:
        self.direct = httpx.AsyncHTTPTransport(verify=verify)
        self.proxied: dict[str, httpx.AsyncHTTPTransport] = {}
        for scheme in ("http", "https"):
            url = proxies.get(scheme) or proxies.get("all")
            if not url:
                continue
            try:
                self.proxied[scheme] = httpx.AsyncHTTPTransport(proxy=url, verify=verify)
            except Exception as exc:  # e.g. socks:// without the optional socks support
                log.warning(
                    "ignoring the %s proxy %s: %s", scheme, _proxy_shown(url), type(exc).__name__
                )
            else:
                log.info("using the system %s proxy %s", scheme, _proxy_shown(url))

    def route(self, url: httpx.URL) -> httpx.AsyncHTTPTransport:
        proxied = self.proxied.get(url.scheme)
        if proxied is None or is_loopback_host(url.host) or _bypasses_proxy(url.host):
            return self.direct
        return proxied

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.route(request.url).handle_async_request(request)

    async def aclose(self) -> None:
        await self.direct.aclose()
        for t in self.proxied.values():
            await t.aclose()


# ---------------------------------------------------------------------------------------------
# Retry-After, backoff


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), capped."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(RETRY_AFTER_CAP, max(0.0, seconds))


# ---------------------------------------------------------------------------------------------
# Error mapping

_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)


def error_for_exception(exc: httpx.HTTPError, policy: RetryPolicy) -> RunningHubError:
    """Translate an httpx failure. Under PAID, anything past connecting means "may have run"."""
    # ConnectError also covers DNS failures and TLS handshake failures: no request byte was sent.
    # PoolTimeout means no connection was ever assigned to the request.
    if isinstance(exc, _NEVER_SENT):
        if isinstance(exc, httpx.TimeoutException):
            return RequestNeverSentError("RunningHub did not accept a connection in time.")
        return RequestNeverSentError()
    if isinstance(exc, httpx.UnsupportedProtocol):
        return InsecureURLError("That address does not use http:// or https://.")
    if policy is RetryPolicy.PAID:
        return OutcomeUnknownError()
    if isinstance(exc, httpx.TimeoutException):
        return NetworkError("RunningHub did not answer in time.")
    if isinstance(exc, httpx.DecodingError):
        return ProtocolError("RunningHub sent a reply that could not be decoded.")
    return NetworkError("The connection to RunningHub dropped.")


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def server_text(d: dict[str, Any], *names: str) -> str:
    """The first non-empty text field among `names` (the server says `message` or `msg`)."""
    for name in names:
        value = d.get(name)
        if value is not None and value != "":
            return str(value)
    return ""


def error_for_response(response: httpx.Response) -> RunningHubError:
    """An error for a non-2xx reply from the API host."""
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    body = _json_or_none(response)
    code = ""
    message = ""
    if isinstance(body, dict):
        code = server_text(body, "errorCode", "code").strip()
        message = server_text(body, "errorMessage", "message", "msg")
    if code == "0":
        code = ""
    if status == 429:
        err: RunningHubError = ServerBusyError(
            "RunningHub asks to slow down (HTTP 429).", code=code or None, server_message=message
        )
    elif status >= 500:
        err = ServerBusyError(
            _("RunningHub is busy right now (HTTP {status}).", status=status),
            code=code or None,
            server_message=message,
        )
    elif code or message:
        default = AuthError if status in (401, 403) else RunningHubError
        err = error_for_code(code or None, message, http_status=status, default=default)
    elif status in (401, 403):
        err = AuthError()
    else:
        err = RunningHubError(
            _(
                "RunningHub answered HTTP {status}; check the site address in Settings.",
                status=status,
            )  # fmt: skip
        )
    err.http_status = status
    err.retry_after = retry_after
    return err


def error_for_download_status(response: httpx.Response) -> RunningHubError:
    status = response.status_code
    if status in (403, 404, 410):
        return ResultExpiredError(http_status=status)
    if status == 429 or status >= 500:
        return ServerBusyError(
            _("The result server is busy (HTTP {status}).", status=status),
            http_status=status,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    return DownloadRejectedError(
        _("The result server answered HTTP {status} instead of the image.", status=status),
        http_status=status,
    )


# ---------------------------------------------------------------------------------------------
# Multipart upload body, streamed so that progress reflects bytes handed to the socket

_FORM_PARAM_ESCAPES = {'"': "%22", "\\": "\\\\"}
_FORM_PARAM_ESCAPES.update({chr(c): f"%{c:02X}" for c in range(0x20) if c != 0x1B})
_FORM_PARAM_RE = re.compile("|".join(re.escape(c) for c in _FORM_PARAM_ESCAPES))


def _form_param(value: str) -> str:
    # The HTML5 form encoding, as browsers (and httpx) send it.
    return _FORM_PARAM_RE.sub(lambda m: _FORM_PARAM_ESCAPES[m.group(0)], value)


class MultipartFile:
    """A one-file multipart/form-data body with a known length, readable many times."""

    def __init__(self, field: str, filename: str, content_type: str, data: bytes) -> None:
        if any(c in content_type for c in '\r\n"'):
            raise ValueError("content_type must be a plain media type")
        self.boundary = secrets.token_hex(16)
        self.head = (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="{_form_param(field)}"; '
            f'filename="{_form_param(filename)}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()
        self.data = data
        self.length = len(self.head) + len(data) + len(self.tail)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    async def stream(self, progress: UploadProgress | None) -> AsyncIterator[bytes]:
        sent = 0
        view = memoryview(self.data)
        pieces = [self.head]
        pieces.extend(bytes(view[i : i + CHUNK_SIZE]) for i in range(0, len(view), CHUNK_SIZE))
        pieces.append(self.tail)
        for piece in pieces:
            yield piece
            # Resumed only once the transport asks for more, i.e. after it wrote this piece.
            sent += len(piece)
            if progress is not None:
                progress(sent, self.length)


# ---------------------------------------------------------------------------------------------
# Image signatures for downloads

_IMAGE_SIGNATURES = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
)


def looks_like_image(head: bytes) -> bool:
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    return any(head.startswith(sig) for sig in _IMAGE_SIGNATURES)


# ---------------------------------------------------------------------------------------------
# The transport


class Transport:
    """One httpx.AsyncClient plus the retry loop. Knows the secret only to scrub it from errors."""

    def __init__(
        self,
        *,
        secret: str,
        timeout: float,
        max_retries: int,
        backoff_base: float,
        backoff_max: float,
        transport: httpx.AsyncBaseTransport | None,
        sleep: Sleep | None,
        rng: random.Random | None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self._secret = secret
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.sleep: Sleep = sleep or asyncio.sleep
        self._rng = rng or random.Random()
        verify = tls_context()
        if transport is None:
            transport = SystemProxyTransport(system_proxies(), verify)
        self._client = httpx.AsyncClient(
            timeout=self.make_timeout(),
            transport=transport,
            verify=verify,
            # Proxies are ours (above); no ~/.netrc credentials are sent anywhere.
            trust_env=False,
            headers={"User-Agent": USER_AGENT},
            # Redirects on the API host are not expected; on result hosts they are followed by
            # hand so that every hop passes the URL policy.
            follow_redirects=False,
        )

    def make_timeout(self, *, read: float | None = None) -> httpx.Timeout:
        return httpx.Timeout(
            connect=min(CONNECT_TIMEOUT, self.timeout),
            read=read if read is not None else self.timeout,
            write=self.timeout,
            pool=POOL_TIMEOUT,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    @property
    def closed(self) -> bool:
        return self._client.is_closed

    # -- secrets --------------------------------------------------------------------------------

    def redact(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret and text else text

    def scrub(self, err: RunningHubError) -> RunningHubError:
        # A server could echo the key back in a message; nothing we raise may carry it.
        err.message = self.redact(err.message)
        err.server_message = self.redact(err.server_message)
        err.args = tuple(self.redact(a) if isinstance(a, str) else a for a in err.args)
        return err

    # -- one attempt ----------------------------------------------------------------------------

    async def send(
        self,
        method: str,
        url: str,
        *,
        policy: RetryPolicy,
        headers: dict[str, str] | None = None,
        json: Any = None,
        content: AsyncIterator[bytes] | None = None,
        timeout: httpx.Timeout | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        """One HTTP exchange; httpx failures come out as our errors. Statuses are not judged."""
        request = self._client.build_request(
            method,
            url,
            headers=headers,
            json=json,
            content=content,
            timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )
        where = loggable_url(request.url)
        started = time.monotonic()
        try:
            response = await self._client.send(request, stream=stream)
        except httpx.HTTPError as exc:
            elapsed = (time.monotonic() - started) * 1000
            log.debug("%s %s failed after %.0f ms: %s", method, where, elapsed, type(exc).__name__)
            raise error_for_exception(exc, policy) from exc
        elapsed = (time.monotonic() - started) * 1000
        log.debug("%s %s -> %d in %.0f ms", method, where, response.status_code, elapsed)
        return response

    # -- the retry loop ---------------------------------------------------------------------------

    def backoff(self, attempt: int) -> float:
        """Full jitter: a uniform wait up to the exponential ceiling, so clients spread out."""
        ceiling = min(self.backoff_max, self.backoff_base * 2**attempt)
        return self._rng.uniform(0.0, max(0.0, ceiling))

    def retry_delay(self, err: RunningHubError, attempt: int, policy: RetryPolicy) -> float | None:
        if isinstance(err, RequestNeverSentError):
            return self.backoff(attempt)
        status = err.http_status
        if isinstance(err, ServerBusyError) and status is not None:
            refused_first = status == 429 or (status == 503 and err.retry_after is not None)
            transient = status == 429 or status >= 500
            if (policy is RetryPolicy.READ and transient) or refused_first:
                return err.retry_after if err.retry_after is not None else self.backoff(attempt)
            return None
        transient = isinstance(err, NetworkError | ProtocolError)
        if policy is RetryPolicy.READ and transient and not isinstance(err, OutcomeUnknownError):
            return self.backoff(attempt)
        return None

    async def run(
        self,
        attempt_once: Callable[[int], Awaitable[T]],
        *,
        policy: RetryPolicy,
        what: str,
        extra_retry: Callable[[RunningHubError], float | None] | None = None,
    ) -> T:
        """Run `attempt_once(n)` until it returns, retrying what `policy` allows.

        `extra_retry` may grant a retry that the policy would not (the upload 401 quirk); such a
        retry does not count against `max_retries`.
        """
        attempt = 0
        while True:
            try:
                return await attempt_once(attempt)
            except RunningHubError as err:
                self.scrub(err)
                delay = extra_retry(err) if extra_retry is not None else None
                if delay is None:
                    if attempt >= self.max_retries:
                        raise
                    delay = self.retry_delay(err, attempt, policy)
                    if delay is None:
                        raise
                    attempt += 1
                log.debug(
                    "%s: %s (code %s, HTTP %s); retry %d of %d in %.2f s",
                    what,
                    type(err).__name__,
                    err.code or "-",
                    err.http_status or "-",
                    attempt,
                    self.max_retries,
                    delay,
                )
                await self.sleep(delay)

    # -- downloads ------------------------------------------------------------------------------

    async def download_once(
        self,
        url: str,
        dest: Path,
        *,
        max_bytes: int,
        progress: DownloadProgress | None,
    ) -> int:
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            check_url_allowed(current)
            # Result hosts are CDNs: no Authorization header is ever sent to them (the client has
            # none by default), and identity encoding keeps Content-Length equal to file size.
            response = await self.send(
                "GET",
                current,
                policy=RetryPolicy.READ,
                headers={"Accept-Encoding": "identity"},
                stream=True,
            )
            try:
                if response.is_redirect and response.headers.get("Location"):
                    current = str(response.url.join(response.headers["Location"]))
                    continue
                if not response.is_success:
                    raise error_for_download_status(response)
                total = to_int(response.headers.get("Content-Length"))
                if total is not None and total > max_bytes:
                    raise DownloadRejectedError(
                        _(
                            "The result is {size} bytes, more than the {limit} allowed.",
                            size=f"{total:,}",
                            limit=f"{max_bytes:,}",
                        )  # fmt: skip
                    )
                return await self._write_stream(response, dest, total, max_bytes, progress)
            finally:
                await response.aclose()
        raise DownloadRejectedError("The result link redirected too many times.")

    async def _write_stream(
        self,
        response: httpx.Response,
        dest: Path,
        total: int | None,
        max_bytes: int,
        progress: DownloadProgress | None,
    ) -> int:
        written = 0
        pending = bytearray()
        checked = False
        fh: IO[bytes] = await asyncio.to_thread(open, dest, "wb")
        try:
            try:
                async for chunk in response.aiter_bytes(CHUNK_SIZE):
                    written += len(chunk)
                    if written > max_bytes:
                        raise DownloadRejectedError(
                            _(
                                "The result is larger than the {limit} bytes allowed.",
                                limit=f"{max_bytes:,}",
                            )  # fmt: skip
                        )
                    if checked:
                        await asyncio.to_thread(fh.write, chunk)
                    else:
                        pending += chunk
                        if len(pending) >= MAGIC_BYTES_NEEDED:
                            _require_image(bytes(pending))
                            await asyncio.to_thread(fh.write, bytes(pending))
                            pending.clear()
                            checked = True
                    if progress is not None:
                        progress(written, total)
            except httpx.HTTPError as exc:
                raise error_for_exception(exc, RetryPolicy.READ) from exc
            if not checked:
                _require_image(bytes(pending))
                await asyncio.to_thread(fh.write, bytes(pending))
        finally:
            await asyncio.to_thread(fh.close)
        return written


def _require_image(head: bytes) -> None:
    if not looks_like_image(head):
        raise DownloadRejectedError("The result is not an image file.")
