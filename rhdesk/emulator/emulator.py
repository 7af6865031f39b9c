"""`Emulator`: runs the RunningHub stand-in on its own event loop in a daemon thread."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType
from typing import Any

from aiohttp import web

from rhdesk.emulator.config import EmulatorConfig, Fault
from rhdesk.emulator.service import Service

_STOP_TIMEOUT = 10.0


class Emulator:
    """A RunningHub-compatible server on loopback. Every public method is thread-safe."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self._service = Service(self.config)
        self._lifecycle = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    # ---- lifecycle ----------------------------------------------------------------------------

    def start(self) -> str:
        """Serve from a daemon thread; returns the base URL. Starting a running emulator is a no-op."""
        with self._lifecycle:
            if self._thread is not None:
                assert self._base_url is not None
                return self._base_url
            ready = threading.Event()
            failure: list[BaseException] = []

            def run() -> None:
                loop = asyncio.new_event_loop()
                asyncio.set_event_loop(loop)
                try:
                    loop.run_until_complete(self._open(loop))
                except BaseException as exc:  # e.g. the port is taken: re-raised by start()
                    failure.append(exc)
                    ready.set()
                    loop.close()
                    return
                ready.set()
                try:
                    loop.run_forever()
                finally:
                    loop.run_until_complete(loop.shutdown_asyncgens())
                    loop.close()

            thread = threading.Thread(target=run, name="rhdesk-emulator", daemon=True)
            thread.start()
            ready.wait()
            if failure:
                thread.join()
                raise failure[0]
            self._thread = thread
            assert self._base_url is not None
            return self._base_url

    def stop(self) -> None:
        """Close the listening socket and every connection, then end the thread. Idempotent."""
        with self._lifecycle:
            thread, loop = self._thread, self._loop
            if thread is None or loop is None:
                return
            try:
                asyncio.run_coroutine_threadsafe(self._close(), loop).result(_STOP_TIMEOUT)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(_STOP_TIMEOUT)
                self._thread = None
                self._loop = None

    async def start_async(self) -> str:
        """Serve on the running event loop instead of a thread (for async tests)."""
        with self._lifecycle:
            if self._thread is not None or self._runner is not None:
                raise RuntimeError("the emulator is already running")
        await self._open(asyncio.get_running_loop())
        assert self._base_url is not None
        return self._base_url

    async def stop_async(self) -> None:
        if self._runner is not None and self._thread is None:
            await self._close()

    async def _open(self, loop: asyncio.AbstractEventLoop) -> None:
        self._service.attach(loop)
        # A short shutdown grace: a request held by a latency fault must not stall stop().
        runner = web.AppRunner(self._service.make_app(), shutdown_timeout=0.5)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.config.host, self.config.port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            await self._service.detach()
            raise
        host, port = runner.addresses[0][:2]
        shown = f"[{host}]" if ":" in host else host
        self._runner = runner
        self._loop = loop
        self._base_url = f"http://{shown}:{port}"

    async def _close(self) -> None:
        runner, self._runner = self._runner, None
        await self._service.detach()
        if runner is not None:
            await runner.cleanup()
        if self._thread is None:
            self._loop = None

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- inspection and control -----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the emulator has not been started")
        return self._base_url

    @property
    def running(self) -> bool:
        return self._runner is not None

    @property
    def api_key(self) -> str:
        return sorted(self.config.api_keys)[0]

    def add_fault(self, fault: Fault) -> None:
        self._service.add_fault(fault)

    def clear_faults(self) -> None:
        self._service.clear_faults()

    def faults(self) -> list[Fault]:
        with self._service.lock:
            return list(self._service.faults)

    @property
    def submit_count(self) -> int:
        with self._service.lock:
            return self._service.submit_count

    @property
    def max_concurrent_seen(self) -> int:
        with self._service.lock:
            return self._service.max_concurrent_seen

    def tasks(self) -> list[dict[str, Any]]:
        return self._service.snapshot()

    @property
    def balance(self) -> int:
        with self._service.lock:
            return self._service.balance

    def set_balance(self, coins: int) -> None:
        with self._service.lock:
            self._service.balance = coins

    def expire_results(self, task_id: str | None = None) -> None:
        self._service.expire_results(task_id)
