"""One way to start background coroutines from the GUI: tracked, and errors reach one presenter.

Slots call `ops.start(coro, on_done=...)` instead of awaiting in place, so no slot needs its own
try/except and no exception disappears inside an orphaned task (cf. Anki's aqt.operations).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QObject, Signal

log = logging.getLogger("rhdesk.ops")


class Operations(QObject):
    failed = Signal(str, str)  # (title, message for a person)
    busy_changed = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(
        self,
        coro: Coroutine[Any, Any, Any],
        *,
        title: str = "",
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], bool] | None = None,
    ) -> asyncio.Task[Any]:
        loop = asyncio.get_event_loop()
        task = loop.create_task(coro)
        self._tasks.add(task)
        self.busy_changed.emit(len(self._tasks))

        def finished(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            self.busy_changed.emit(len(self._tasks))
            if t.cancelled():
                return
            exc = t.exception()
            if exc is None:
                if on_done is not None:
                    on_done(t.result())
                return
            if on_error is not None and on_error(exc):
                return
            from rhdesk.logs import redact

            log.error("operation %r failed", title, exc_info=exc)
            self.failed.emit(
                title or "Something went wrong", redact(str(exc)) or type(exc).__name__
            )

        task.add_done_callback(finished)
        return task

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
