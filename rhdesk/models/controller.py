"""The window's link to the pipeline: owns client, store and runner; re-emits events as signals."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from PySide6.QtCore import QObject, QTimer, Signal

from rhdesk import logs, secrets
from rhdesk.api.sites import SITES
from rhdesk.context import DEMO_KEY, Context, make_client, make_runner
from rhdesk.core.task import TaskSpec
from rhdesk.jobs.events import TaskEvent
from rhdesk.models.ops import Operations
from rhdesk.models.tasks import TaskListModel
from rhdesk.store.db import Store

log = logging.getLogger("rhdesk.controller")


def _log_only(what: str):
    def handle(exc: BaseException) -> bool:
        log.info("%s: %s", what, type(exc).__name__)
        return True

    return handle


class AppController(QObject):
    task_event = Signal(object)  # TaskEvent
    task_started = Signal(int)
    connection_changed = Signal()  # mode, site or key changed
    account_changed = Signal(object)  # AccountStatus | None
    queue_changed = Signal(object)  # QueueStatus | None
    message = Signal(str)

    def __init__(self, ctx: Context, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.ops = Operations(self)
        self.store = Store(ctx.paths.db)
        self.tasks = TaskListModel(self.store, self)
        self.tasks.demo_base = ctx.base_url if ctx.demo else None
        self.tasks.reload()
        self.client = None
        self.runner = None
        self.account = None
        self.queue = None  # QueueStatus | None, from the last refresh
        # Site -> API address; a test points both sites at emulators.
        self.sites: dict[str, str] = dict(SITES)
        self._unsubscribe = None
        self.task_event.connect(self.tasks.apply_event)
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self.tasks.refresh_times)
        self._ticker.start()
        if ctx.api_key:
            self._connect()

    # -- state ------------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self.runner is not None

    @property
    def demo(self) -> bool:
        return self.ctx.demo

    def _connect(self) -> None:
        self.client = make_client(self.ctx)
        self.runner = make_runner(self.ctx, self.client, self.store)
        self._unsubscribe = self.runner.subscribe(self.task_event.emit)
        self.connection_changed.emit()

    async def _disconnect(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        if self.runner is not None:
            await self.runner.aclose()
            self.runner = None
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    # -- actions ----------------------------------------------------------------------------
    def run(self, spec: TaskSpec) -> None:
        if self.runner is None:
            self.message.emit("Enter an API key or try demo mode first.")
            return
        self.ops.start(self.runner.start_task(spec), title=self.tr("Could not start the task"),
                       on_done=self.task_started.emit)  # fmt: skip

    def cancel(self, task_id: int) -> None:
        if self.runner is None:
            return

        def done(message: str) -> None:
            self.tasks.set_note(task_id, message)  # stays next to the task, unlike the status bar
            self.message.emit(message)

        self.ops.start(
            self.runner.cancel(task_id), title=self.tr("Could not stop the task"), on_done=done
        )

    def run_again(self, task_id: int) -> None:
        """The same task once more, uploading again from the local copies."""
        if self.runner is None:
            self.message.emit(self.tr("Enter an API key or try demo mode first."))
            return
        self.ops.start(self.runner.run_again(task_id), title=self.tr("Could not run the task again"),
                       on_done=self.task_started.emit)  # fmt: skip

    def check_again(self, task_id: int) -> None:
        if self.runner is None:
            return
        self.ops.start(self.runner.check_again(task_id), title=self.tr("Could not check the task"))

    def resume(self) -> None:
        if self.runner is None:
            return

        def done(ids: list[int]) -> None:
            if ids:
                self.message.emit(f"Resumed {len(ids)} unfinished task(s) from last time.")

        self.ops.start(self.runner.resume(), title=self.tr("Could not resume tasks"), on_done=done)

    def refresh_account(self) -> None:
        if self.client is None:
            return
        client = self.client

        async def fetch():
            account = await client.account_status()
            queue = None
            with contextlib.suppress(Exception):
                queue = await client.queue_status()
            return account, queue

        def done(result) -> None:
            self.account, queue = result
            self.queue = queue
            self.account_changed.emit(self.account)
            self.queue_changed.emit(queue)

        def failed(exc: BaseException) -> bool:
            log.info("account status unavailable: %s", exc)
            self.account_changed.emit(None)
            return True

        self.ops.start(fetch(), title=self.tr("Account"), on_done=done, on_error=failed)

    def set_key(self, site: str, key: str, *, session_only: bool = False) -> str:
        """Store a key (keyring, or this session only) and reconnect. Returns where it went."""
        logs.add_secret(key)  # before anything could log or raise with it
        where = secrets.store_api_key(site, key, session_only=session_only)
        self.ctx.key_source = where
        self.ops.start(self._switch(site=site, key=key.strip(), base_url=self.site_url(site),
                                    demo=False), title=self.tr("Could not connect"))  # fmt: skip
        return where

    def site_url(self, site: str) -> str:
        from rhdesk.api.sites import resolve_base_url

        return self.sites.get(site) or resolve_base_url(site)

    def use_site(self, site: str) -> bool:
        """Switch to `site` with the key stored for it; False (and disconnected) if it has none."""
        lookup = secrets.get_api_key(site)
        if not lookup.key:
            self.ops.start(self._go_offline(site), title=self.tr("Could not switch site"))
            return False
        logs.add_secret(lookup.key)
        self.ctx.key_source = lookup.source
        self.ops.start(self._switch(site=site, key=lookup.key, base_url=self.site_url(site),
                                    demo=False), title=self.tr("Could not connect"))  # fmt: skip
        return True

    async def _go_offline(self, site: str) -> None:
        await self._disconnect()
        self.ctx.site, self.ctx.api_key, self.ctx.demo, self.ctx.key_source = site, "", False, ""
        self.account = self.queue = None
        self.account_changed.emit(None)
        self.connection_changed.emit()

    def apply_settings(self) -> None:
        """Settings were edited: hand the ones the runner reads to it, live. Tasks in flight
        keep going (rebuilding the runner could interrupt a paid submit)."""
        s, runner = self.ctx.settings, self.runner
        if runner is None:
            return
        from rhdesk.jobs.pipeline import PollPolicy

        runner.config.name_template = s.name_template
        runner.config.strip_gps = s.strip_gps
        runner.config.library = self.ctx.paths.library
        if not self.ctx.demo:
            runner.config.poll = PollPolicy(max_interval=max(1.0, s.poll_seconds))
        limit = s.concurrency or (self.queue.concurrent_limit if self.queue else None)
        if limit:
            # Quietly: the runner asks the server again when it next needs a slot.
            self.ops.start(runner.set_concurrency(limit), on_error=_log_only("concurrency"))
        else:  # nothing known yet: the runner asks the server when it first needs a slot
            runner.config.concurrency = None

    def start_demo(self) -> None:
        from rhdesk.emulator import Emulator, EmulatorConfig

        emu = Emulator(
            EmulatorConfig(api_keys=frozenset({DEMO_KEY}), queue_seconds=1.0, run_seconds=3.0)
        )
        base = emu.start()
        self.ctx.emulator = emu
        self.ops.start(self._switch(site=self.ctx.site, key=DEMO_KEY, base_url=base, demo=True),
                       title=self.tr("Could not start demo mode"))  # fmt: skip

    async def _switch(self, *, site: str, key: str, base_url: str, demo: bool) -> None:
        await self._disconnect()
        self.ctx.site, self.ctx.api_key, self.ctx.base_url, self.ctx.demo = (
            site,
            key,
            base_url,
            demo,
        )
        self.tasks.demo_base = base_url if demo else None
        self._connect()
        self.refresh_account()
        self.resume()

    async def shutdown(self) -> None:
        self._ticker.stop()
        self.tasks.shutdown()
        await self.ops.cancel_all()
        await self._disconnect()
        self.store.close()
        self.ctx.close()

    def shutdown_now(self) -> None:
        """For a closing window without a running loop."""
        try:
            loop = asyncio.get_event_loop()
            if loop.is_running():
                loop.create_task(self.shutdown())
                return
            loop.run_until_complete(self.shutdown())
        except RuntimeError:
            self.ctx.close()

    def on_event(self, ev: TaskEvent) -> None:  # convenience for tests
        self.task_event.emit(ev)
