"""The emulator's state and HTTP handlers (aiohttp), speaking RunningHub's documented shapes.

State is shared between the server's event loop (handlers, task drivers) and whatever thread the
tests run in (the `Emulator` facade), so every read or write of it holds `self.lock`. The lock is
never held across an `await`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import math
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
from aiohttp import web

from rhdesk.core.catalogue import ModelSpec, get_model
from rhdesk.core.validation import check_all, estimated_cost_cny
from rhdesk.emulator import imaging
from rhdesk.emulator.config import REQUEST_FAULT_KINDS, EmulatorConfig, Fault

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

QUEUED, RUNNING, SUCCESS, FAILED, CANCEL = "QUEUED", "RUNNING", "SUCCESS", "FAILED", "CANCEL"

RESOLUTION_SIDES = {"1k": 1024, "2k": 2048, "3k": 3072, "4k": 4096}
PROMPT_TIPS = json.dumps(
    {"result": True, "error": None, "outputs_to_execute": [], "node_errors": {}}
)
BAD_KEY_MESSAGE = "ApiKey verification failed: API Key不存在"
EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif", "BMP": "bmp"}
CONTENT_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "bmp": "image/bmp",
}


@dataclass
class StoredFile:
    data: bytes
    ext: str
    pillow_format: str

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES.get(self.ext, "application/octet-stream")


@dataclass
class TaskParams:
    prompt: str
    width: int
    height: int
    max_images: int
    sequential: bool
    image_urls: list[str]

    @property
    def outputs(self) -> int:
        return self.max_images if self.sequential else 1


@dataclass
class Task:
    task_id: str
    api_key: str
    endpoint: str
    model: ModelSpec
    body: dict[str, Any]
    params: TaskParams
    inputs: list[bytes]
    client_id: str
    created_at: float  # unix time, for people
    queued_until: float  # monotonic
    run_until: float  # monotonic
    cost_coins: int
    fail: tuple[str, str] | None = None
    final: str | None = None
    finished_at: float | None = None
    finished_mono: float | None = None
    results: list[StoredFile] = field(default_factory=list)
    results_expires: int = 0
    error_code: str = ""
    error_message: str = ""
    failed_reason: str = ""
    charged_coins: int = 0

    def status(self, now: float) -> str:
        if self.final:
            return self.final
        return QUEUED if now < self.queued_until else RUNNING

    @property
    def active(self) -> bool:
        return self.final is None

    def result_path(self, n: int) -> str:
        return f"/emu/results/{self.task_id}/{n}.{self.results[n - 1].ext}"


class BodyError(ValueError):
    """A request body the real service would refuse with code 301; the text names the field."""


def _int_field(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        raise BodyError(f"{name}: expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise BodyError(f"{name}: expected an integer, got {value!r}")


def parse_task_body(model: ModelSpec, body: Any) -> TaskParams:
    """Validate a submit/price-preview body the way the upstream model does."""
    if not isinstance(body, dict):
        raise BodyError("body: expected a JSON object")
    prompt = body.get("prompt")
    if not isinstance(prompt, str):
        raise BodyError(
            f"prompt: required, a string of {model.prompt_min}–{model.prompt_max} characters"
        )
    width = _int_field(body, "width", model.width.default)
    height = _int_field(body, "height", model.height.default)
    resolution = body.get("resolution")
    if resolution not in (None, ""):
        key = str(resolution).strip().lower()
        if key not in model.resolutions or key not in RESOLUTION_SIDES:
            raise BodyError(
                f"resolution: {resolution!r} is not supported by {model.label}; "
                f"use one of {', '.join(model.resolutions)}"
            )
        width = height = RESOLUTION_SIDES[key]
    mode = body.get("sequentialImageGeneration", "disabled")
    if mode not in ("disabled", "auto"):
        raise BodyError(f"sequentialImageGeneration: {mode!r} must be 'disabled' or 'auto'")
    max_images = _int_field(body, "maxImages", 1)
    urls = body.get("imageUrls")
    if urls is None:
        urls = []
    if not isinstance(urls, list) or not all(isinstance(u, str) and u for u in urls):
        raise BodyError("imageUrls: expected a list of URL strings")
    problems = check_all(model, prompt, width, height, len(urls), max_images, mode == "auto")
    if problems:
        fields = {"size": "width/height", "images": "imageUrls", "max_images": "maxImages"}
        raise BodyError("; ".join(f"{fields.get(p.field, p.field)}: {p.message}" for p in problems))
    return TaskParams(prompt, width, height, max_images, mode == "auto", list(urls))


def _flat_failure(code: str, message: str, status: str = FAILED) -> dict[str, Any]:
    return {
        "taskId": "",
        "status": status,
        "errorCode": code,
        "errorMessage": message,
        "failedReason": "",
        "results": None,
        "clientId": "",
        "promptTips": "",
        "usage": None,
    }


def _envelope(code: int | str, text: str, data: Any = None, text_key: str = "msg") -> dict:
    # Envelope codes are JSON numbers upstream; keep a non-numeric code as given.
    number = str(code).strip()
    return {
        "code": int(number) if number.lstrip("-").isdigit() else code,
        text_key: text,
        "data": data,
    }


def _json(payload: Any, status: int = 200) -> web.Response:
    # ensure_ascii=False: the real service sends its Chinese messages as UTF-8, not \u escapes.
    return web.json_response(
        payload, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False)
    )


def _oss_error(status: int, code: str, message: str) -> web.Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error>\n  <Code>{code}</Code>\n  <Message>{message}</Message>\n"
        f"  <RequestId>{secrets.token_hex(12).upper()}</RequestId>\n</Error>\n"
    )
    return web.Response(status=status, text=body, content_type="application/xml")


def _bearer(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def _read_json(request: web.Request) -> Any:
    try:
        return await request.json()
    except (ValueError, UnicodeDecodeError):
        return None


def _origin(request: web.Request) -> str:
    # Links point back at whatever host the client used (127.0.0.1, localhost, a LAN name).
    return f"{request.scheme}://{request.host}"


class Service:
    """All emulator state plus the aiohttp application that serves it."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.secret = secrets.token_bytes(32)
        self.balance = config.coins
        self.submit_count = 0
        self.max_concurrent_seen = 0
        self.uploads: dict[str, StoredFile] = {}
        self.tasks: dict[str, Task] = {}
        self.faults: list[Fault] = []
        self._last_id = 0
        self._drivers: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool: ThreadPoolExecutor | None = None

    # ---- lifecycle (called on the server loop) ----------------------------------------------

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="rhdesk-emu-render")
        with self.lock:
            unfinished = [t for t in self.tasks.values() if t.active]
        for task in unfinished:  # resumed after a stop/start
            self._spawn_driver(task)

    async def detach(self) -> None:
        drivers = list(self._drivers)
        for d in drivers:
            d.cancel()
        await asyncio.gather(*drivers, return_exceptions=True)
        self._drivers.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._loop = None

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=self.config.max_upload_bytes + 1024 * 1024)
        f = self._with_faults
        r = app.router
        r.add_post("/openapi/v2/media/upload/binary", f("upload", self.upload))
        r.add_post("/openapi/v2/query", f("query", self.query))
        r.add_get("/openapi/v2/queue/status", f("queue", self.queue_status))
        r.add_post("/openapi/v2/price-preview/{family}/{kind}", f("price", self.price_preview))
        r.add_post("/openapi/v2/{family}/{kind}", f("submit", self.submit))
        r.add_post("/task/openapi/cancel", f("cancel", self.cancel))
        r.add_post("/uc/openapi/accountStatus", f("account", self.account_status))
        r.add_get("/emu/files/{name}", f("download", self.download_file))
        r.add_get("/emu/results/{task_id}/{name}", f("download", self.download_result))
        return app

    # ---- faults -------------------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def _take_fault(self, endpoint: str | None, kinds: frozenset[str]) -> Fault | None:
        """First matching fault in insertion order, counting one hit (None: any endpoint)."""
        with self.lock:
            for fault in self.faults:
                if fault.kind in kinds and (endpoint is None or fault.matches(endpoint)):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self.faults.remove(fault)
                    return fault
        return None

    def _with_faults(self, endpoint: str, handler: Handler) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            fault = self._take_fault(endpoint, REQUEST_FAULT_KINDS)
            if fault is None:
                return await handler(request)
            return await self._apply_fault(fault, endpoint, handler, request)

        return handle

    async def _apply_fault(
        self, fault: Fault, endpoint: str, handler: Handler, request: web.Request
    ) -> web.StreamResponse:
        kind = fault.kind
        if kind == "latency":
            await asyncio.sleep(float(fault.get("seconds", 1.0)))
            return await handler(request)
        if kind == "drop":
            return self._drop(request)
        if kind == "drop_after":
            await handler(request)  # the work is done (a submit creates its paid task) ...
            return self._drop(request)  # ... and the answer is lost
        if kind == "http_status":
            status = int(fault.get("status", 500))
            text = fault.get("body") or f"<html><body><h1>{status} Server Error</h1></body></html>"
            return web.Response(
                status=status, text=text, content_type=fault.get("content_type", "text/html")
            )
        if kind == "rate_limit":
            retry_after = float(fault.get("retry_after", 1.0))
            header = str(int(retry_after)) if retry_after.is_integer() else f"{retry_after:g}"
            return web.Response(
                status=429,
                text=fault.get("body") or '{"code":429,"msg":"Too Many Requests"}',
                content_type="application/json",
                headers={"Retry-After": header},
            )
        if kind == "malformed":
            return web.Response(
                status=200,
                text=fault.get("body") or '{"code":0,"msg":"succ',
                content_type=fault.get("content_type", "application/json"),
            )
        if kind == "slow_body":
            # The answer trickles out (bytes_per_second): a download that a test can interrupt.
            inner = await handler(request)
            body = inner.body if isinstance(inner, web.Response) else None
            if not isinstance(body, bytes | bytearray) or inner.status != 200:
                return inner
            rate = max(1024, int(fault.get("bytes_per_second", 256 * 1024)))
            out = web.StreamResponse(status=200, headers={"Content-Type": inner.content_type})
            out.content_length = len(body)
            await out.prepare(request)
            chunk = max(1024, rate // 20)
            try:
                for i in range(0, len(body), chunk):
                    await out.write(bytes(body[i : i + chunk]))
                    await asyncio.sleep(chunk / rate)
                await out.write_eof()
            except (ConnectionError, aiohttp.ClientConnectionResetError):
                pass  # the client went away mid-download: exactly what such a test does
            return out
        if kind == "api_error":
            code = str(fault.get("code", "1000"))
            message = str(fault.get("message", "unknown error"))
            return self._api_error(endpoint, code, message, fault)
        raise AssertionError(f"unhandled fault kind {kind}")

    @staticmethod
    def _drop(request: web.Request) -> web.StreamResponse:
        transport = request.transport
        if transport is not None:
            transport.close()
        # aiohttp sees the closing transport, skips writing this response and drops it quietly
        # ("premature client disconnection"); 499 only labels the line in the access log.
        return web.Response(status=499)

    @staticmethod
    def _api_error(endpoint: str, code: str, message: str, fault: Fault) -> web.StreamResponse:
        if endpoint == "submit":
            return _json(_flat_failure(code, message))
        if endpoint == "query":
            return _json(_flat_failure(code, message, status=""))
        if endpoint == "upload":
            return _json(_envelope(code, message, text_key="message"))
        if endpoint == "download":
            return _oss_error(int(fault.get("status", 403)), code, message)
        return _json(_envelope(code, message))

    # ---- links --------------------------------------------------------------------------------

    def _sig(self, path: str, expires: int) -> str:
        mac = hmac.new(self.secret, f"{path}\n{expires}".encode(), hashlib.sha256)
        return mac.hexdigest()[:32]

    def signed(self, origin: str, path: str, expires: int) -> str:
        return f"{origin}{path}?expires={expires}&sig={self._sig(path, expires)}"

    def _link_problem(self, path: str, query: dict[str, list[str]]) -> str | None:
        """Why a signed link is refused (the OSS message), or None if it is valid now."""
        expires_s = (query.get("expires") or [""])[0]
        sig = (query.get("sig") or [""])[0]
        if not expires_s.isdigit() or not sig:
            return "AccessDenied: Request lacks a valid signature."
        if not hmac.compare_digest(sig, self._sig(path, int(expires_s))):
            return "SignatureDoesNotMatch: The request signature we calculated does not match."
        if int(expires_s) <= time.time():
            return "AccessDenied: Request has expired."
        return None

    def _fetch(self, url: str) -> StoredFile | None:
        """What the model's downloader would get for an input URL: only our live links work."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return None
        if self._link_problem(parts.path, parse_qs(parts.query)) is not None:
            return None
        with self.lock:
            stored, revoked = self._lookup(parts.path)
        return None if revoked else stored

    def _lookup(self, path: str) -> tuple[StoredFile | None, bool]:
        """The file behind a link path, and whether its links were revoked (results only)."""
        segments = path.split("/")
        if path.startswith("/emu/files/") and len(segments) == 4:
            return self.uploads.get(segments[3]), False
        if path.startswith("/emu/results/") and len(segments) == 5:
            task = self.tasks.get(segments[3])
            n = segments[4].partition(".")[0]
            if (
                task is not None
                and n.isdigit()
                and 1 <= int(n) <= len(task.results)
                and task.result_path(int(n)) == path
            ):
                return task.results[int(n) - 1], task.results_expires <= time.time()
        return None, False

    # ---- tasks --------------------------------------------------------------------------------

    def _new_task_id(self) -> str:
        # Snowflake-like: milliseconds << 22 plus a counter gives 19 digits, like the real ids.
        candidate = int(time.time() * 1000) << 22
        self._last_id = max(candidate, self._last_id + 1)
        return str(self._last_id)

    def _active(self, api_key: str | None = None) -> list[Task]:
        return [
            t for t in self.tasks.values() if t.active and (api_key is None or t.api_key == api_key)
        ]

    def _spawn_driver(self, task: Task) -> None:
        assert self._loop is not None
        driver = self._loop.create_task(self._drive(task), name=f"emu-task-{task.task_id}")
        self._drivers.add(driver)
        driver.add_done_callback(self._drivers.discard)

    async def _drive(self, task: Task) -> None:
        """Run one task to its end whether or not anyone polls."""
        loop = asyncio.get_running_loop()
        render = None
        if task.fail is None:
            # Start rendering at once so large results are ready when RUNNING time is up.
            render = loop.run_in_executor(self._pool, self._render_all, task)
        blobs: list[bytes] = []
        failure = task.fail
        try:
            delay = task.run_until - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if render is not None:
                blobs = await render
        except asyncio.CancelledError:
            # Stopping: a render finishing after the loop closed must not try to report back.
            if render is not None:
                render.cancel()
            raise
        except Exception as exc:  # a broken input: fail like the real model would
            failure = ("1000", f"unknown error: {exc}")
        self._finish(task, blobs, failure)

    def _render_all(self, task: Task) -> list[bytes]:
        p = task.params
        return [
            imaging.render(
                task.inputs, p.prompt, p.width, p.height, n, p.outputs, self.config.output_format
            )
            for n in range(1, p.outputs + 1)
        ]

    def _finish(self, task: Task, blobs: list[bytes], failure: tuple[str, str] | None) -> None:
        with self.lock:
            if not task.active:  # cancelled meanwhile
                return
            task.finished_at = time.time()
            task.finished_mono = time.monotonic()
            if failure is not None:
                task.final = FAILED
                task.error_code, task.error_message = failure
                task.failed_reason = failure[1]
                return
            ext = self.config.output_format
            task.results = [StoredFile(b, ext, "JPEG" if ext == "jpg" else "PNG") for b in blobs]
            expired = self._take_fault(None, frozenset({"expired_links"})) is not None
            ttl = -1 if expired else self.config.result_ttl_seconds
            task.results_expires = int(time.time() + ttl)
            task.charged_coins = self.config.coins_per_image * len(blobs)
            self.balance -= task.charged_coins
            task.final = SUCCESS

    def task_reply(self, task: Task, origin: str) -> dict[str, Any]:
        status = task.status(time.monotonic())
        results = None
        usage: dict[str, Any] = {
            "thirdPartyConsumeMoney": None,
            "consumeMoney": None,
            "consumeCoins": None,
            "taskCostTime": None,
        }
        if status == SUCCESS:
            results = [
                {
                    "url": self.signed(origin, task.result_path(n), task.results_expires),
                    "outputType": task.results[n - 1].ext,
                    "text": None,
                }
                for n in range(1, len(task.results) + 1)
            ]
        if not task.active:
            images = len(task.results)
            run_time = (task.finished_mono or task.run_until) - task.queued_until
            usage.update(
                consumeMoney=f"{task.model.price_per_image_cny * images:.2f}",
                consumeCoins=str(task.charged_coins),
                taskCostTime=str(max(0, math.ceil(run_time))),
            )
        return {
            "taskId": task.task_id,
            "status": status,
            "errorCode": task.error_code,
            "errorMessage": task.error_message,
            "failedReason": task.failed_reason,
            "results": results,
            "usage": usage,
            "clientId": task.client_id,
            "promptTips": PROMPT_TIPS,
        }

    def snapshot(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        with self.lock:
            return [
                {
                    "taskId": t.task_id,
                    "endpoint": t.endpoint,
                    "status": t.status(now),
                    "body": json.loads(json.dumps(t.body)),
                    "created_at": t.created_at,
                    "finished_at": t.finished_at,
                    "results": len(t.results),
                    "errorCode": t.error_code,
                    "charged_coins": t.charged_coins,
                    "results_expire_at": t.results_expires or None,
                }
                for t in self.tasks.values()
            ]

    def expire_results(self, task_id: str | None = None) -> None:
        past = int(time.time()) - 1
        with self.lock:
            for t in self.tasks.values():
                if (task_id is None or t.task_id == task_id) and t.results:
                    t.results_expires = past

    # ---- handlers -----------------------------------------------------------------------------

    def _key_ok(self, key: str) -> bool:
        return bool(key) and key in self.config.api_keys

    async def upload(self, request: web.Request) -> web.StreamResponse:
        def fail(code: int, message: str) -> web.Response:
            return _json(_envelope(code, message, text_key="message"))

        if not self._key_ok(_bearer(request)):
            return fail(401, BAD_KEY_MESSAGE)
        if not request.content_type.startswith("multipart/"):
            return fail(301, "file: expected multipart/form-data with a 'file' field")
        limit = self.config.max_upload_bytes
        data: bytes | None = None
        too_big = False
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if getattr(part, "name", None) != "file" or data is not None or too_big:
                await part.release()
                continue
            chunks: list[bytes] = []
            size = 0
            # Keep reading past the limit (and discard) so the client gets an answer, not a reset.
            while chunk := await part.read_chunk():  # type: ignore[union-attr]
                size += len(chunk)
                if size > limit:
                    too_big = True
                    chunks.clear()
                elif not too_big:
                    chunks.append(chunk)
            if not too_big:
                data = b"".join(chunks)
        if too_big:
            return fail(809, f"file too large: at most {limit // (1024 * 1024)} MB")
        if not data:
            return fail(301, "file: missing or empty 'file' field")
        fmt = imaging.sniff(data)
        if fmt is None:
            return fail(301, "file: not an image (PNG, JPEG, WEBP, GIF or BMP expected)")
        ext = EXTENSIONS.get(fmt, fmt.lower())
        name = f"{hashlib.sha256(data).hexdigest()}.{ext}"
        with self.lock:
            self.uploads[name] = StoredFile(data, ext, fmt)
        path = f"/emu/files/{name}"
        expires = int(time.time() + self.config.upload_ttl_seconds)
        payload = {
            "type": "image",
            "download_url": self.signed(_origin(request), path, expires),
            "fileName": f"openapi/{name}",
            "size": str(len(data)),
        }
        return _json(_envelope(0, "success", payload, text_key="message"))

    def _model_or_404(self, request: web.Request) -> ModelSpec:
        endpoint = f"{request.match_info['family']}/{request.match_info['kind']}"
        try:
            return get_model(endpoint)
        except KeyError:
            raise web.HTTPNotFound(
                text=json.dumps({"code": 404, "msg": f"no such endpoint: {endpoint}"}),
                content_type="application/json",
            ) from None

    async def submit(self, request: web.Request) -> web.StreamResponse:
        model = self._model_or_404(request)
        key = _bearer(request)
        if not self._key_ok(key):
            return _json(_flat_failure("1601", BAD_KEY_MESSAGE))
        body = await _read_json(request)
        try:
            params = parse_task_body(model, body)
        except BodyError as exc:
            return _json(_flat_failure("301", str(exc)))
        inputs: list[bytes] = []
        for i, url in enumerate(params.image_urls):
            stored = self._fetch(url)
            if stored is None:
                return _json(_flat_failure("301", f"imageUrls[{i}]: image could not be fetched"))
            if model.inputs is not None and stored.pillow_format not in model.inputs.formats:
                formats = "/".join(model.inputs.formats)
                return _json(
                    _flat_failure(
                        "301",
                        f"imageUrls[{i}]: {stored.pillow_format} is not supported ({formats})",
                    )
                )
            if model.inputs is not None and len(stored.data) > model.inputs.max_bytes:
                mb = model.inputs.max_bytes // (1024 * 1024)
                return _json(_flat_failure("301", f"imageUrls[{i}]: image larger than {mb} MB"))
            inputs.append(stored.data)
        cost = self.config.coins_per_image * params.outputs
        with self.lock:
            if len(self._active(key)) >= self.config.concurrency_limit:
                return _json(
                    _flat_failure(
                        "1520",
                        f"concurrency limit reached: at most {self.config.concurrency_limit} "
                        "tasks at once for this key",
                    )
                )
            # Coins of unfinished tasks are spoken for: they are charged when those succeed.
            available = self.balance - sum(t.cost_coins for t in self._active())
            if available < cost:
                return _json(_flat_failure("416", "wallet balance too low (余额不足)"))
            fail_fault = self._take_fault("submit", frozenset({"fail_task"}))
            now = time.monotonic()
            task = Task(
                task_id=self._new_task_id(),
                api_key=key,
                endpoint=model.endpoint,
                model=model,
                body=json.loads(json.dumps(body)),
                params=params,
                inputs=inputs,
                client_id=secrets.token_hex(16),
                created_at=time.time(),
                queued_until=now + self.config.queue_seconds,
                run_until=now + self.config.queue_seconds + self.config.run_seconds,
                cost_coins=cost,
                fail=(
                    (
                        str(fail_fault.get("error_code", "1505")),
                        str(fail_fault.get("message", "content refused")),
                    )
                    if fail_fault
                    else None
                ),
            )
            self.tasks[task.task_id] = task
            self.submit_count += 1
            self.max_concurrent_seen = max(self.max_concurrent_seen, len(self._active()))
        self._spawn_driver(task)
        return _json(
            {
                "taskId": task.task_id,
                "status": QUEUED,
                "errorCode": "",
                "errorMessage": "",
                "results": None,
                "clientId": task.client_id,
                "promptTips": PROMPT_TIPS,
            }
        )

    async def query(self, request: web.Request) -> web.StreamResponse:
        key = _bearer(request)
        if not self._key_ok(key):
            return _json(_flat_failure("1601", BAD_KEY_MESSAGE, status=""))
        body = await _read_json(request)
        task_id = str(body.get("taskId") or "") if isinstance(body, dict) else ""
        with self.lock:
            task = self.tasks.get(task_id)
            if task is None or task.api_key != key:  # a foreign task is "not found" too
                return _json(_flat_failure("1007", "task not found", status=""))
            return _json(self.task_reply(task, _origin(request)))

    async def cancel(self, request: web.Request) -> web.StreamResponse:
        body = await _read_json(request)
        body = body if isinstance(body, dict) else {}
        key = str(body.get("apiKey") or "")
        if not self._key_ok(key):
            return _json(_envelope(802, "APIKEY_UNAUTHORIZED"))
        not_found = _json(_envelope(807, "任务不存在 task not found"))
        with self.lock:
            task = self.tasks.get(str(body.get("taskId") or ""))
            # The legacy cancel endpoint may not know v2 model tasks at all (unsettled upstream).
            if task is None or task.api_key != key or not self.config.cancel_model_tasks:
                return not_found
            if not task.active:
                return _json(_envelope(805, f"任务已结束 task already finished ({task.final})"))
            task.final = CANCEL
            task.finished_at = time.time()
            task.finished_mono = time.monotonic()
            task.error_message = "cancelled by user"
        return _json(_envelope(0, "success"))

    async def account_status(self, request: web.Request) -> web.StreamResponse:
        body = await _read_json(request)
        key = str(body.get("apikey") or "") if isinstance(body, dict) else ""
        if not self._key_ok(key):
            return _json(_envelope(802, "APIKEY_UNAUTHORIZED"))
        with self.lock:
            data = {
                "remainCoins": str(self.balance),
                "currentTaskCounts": str(len(self._active(key))),
                "remainMoney": None,
                "currency": None,
                "apiType": self.config.api_key_type,
            }
        return _json(_envelope(0, "success", data))

    async def queue_status(self, request: web.Request) -> web.StreamResponse:
        key = _bearer(request)
        if not self._key_ok(key):
            return _json(_envelope(401, BAD_KEY_MESSAGE))
        now = time.monotonic()
        with self.lock:
            statuses = [t.status(now) for t in self._active(key)]
        data = {
            "apiKeyType": self.config.api_key_type,
            "concurrentLimit": self.config.concurrency_limit,
            "runningCount": str(statuses.count(RUNNING)),
            "queuedCount": str(statuses.count(QUEUED)),
        }
        return _json(_envelope(0, "success", data))

    async def price_preview(self, request: web.Request) -> web.StreamResponse:
        model = self._model_or_404(request)
        if not self._key_ok(_bearer(request)):
            return _json(_envelope(401, BAD_KEY_MESSAGE))
        try:
            params = parse_task_body(model, await _read_json(request))
        except BodyError as exc:
            return _json(_envelope(301, str(exc)))
        price = estimated_cost_cny(model, params.max_images, params.sequential)
        data = {"estimatedPrice": f"{price:.2f}", "currency": "CNY", "priceText": f"¥{price:.2f}"}
        return _json(_envelope(0, "success", data))

    def _serve_file(self, request: web.Request, path: str) -> web.StreamResponse:
        problem = self._link_problem(path, parse_qs(request.query_string))
        if problem is not None:
            code, _, message = problem.partition(": ")
            return _oss_error(403, code, message)
        with self.lock:
            stored, revoked = self._lookup(path)
        if revoked:  # links revoked by expire_results() still carry a valid signature
            return _oss_error(403, "AccessDenied", "Request has expired.")
        if stored is None:
            return _oss_error(404, "NoSuchKey", "The specified key does not exist.")
        return web.Response(body=stored.data, content_type=stored.content_type)

    async def download_file(self, request: web.Request) -> web.StreamResponse:
        return self._serve_file(request, f"/emu/files/{request.match_info['name']}")

    async def download_result(self, request: web.Request) -> web.StreamResponse:
        path = f"/emu/results/{request.match_info['task_id']}/{request.match_info['name']}"
        return self._serve_file(request, path)
