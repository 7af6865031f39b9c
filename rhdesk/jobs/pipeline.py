"""The task pipeline: prepare → upload → submit → poll → download, many tasks at once.

Paid work is never lost and never sent twice: the task row exists before anything is sent, the
submit is marked "sending" in the database before the request leaves and the remote id is stored
the moment the reply arrives. A submit whose outcome is unknown is never retried by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from rhdesk.api import errors as E
from rhdesk.api.client import RunningHubClient
from rhdesk.api.types import TaskState, TaskStatus
from rhdesk.core import naming
from rhdesk.core.prepare import ImageProblem, prepare_image
from rhdesk.i18n.core import _
from rhdesk.jobs.events import TaskEvent
from rhdesk.store import db as S
from rhdesk.store.db import Store, TaskRecord

log = logging.getLogger("rhdesk.jobs")

# Uploaded links live a day on RunningHub; re-upload well before that.
UPLOAD_LINK_TTL = 20 * 3600
CAPACITY_ERRORS = (E.ConcurrencyLimitError, E.ServerBusyError)


@dataclass
class PollPolicy:
    first: float = 1.0
    factor: float = 1.5
    max_interval: float = 5.0  # RunningHub's own client polls every 5 s
    give_up_after: float = 30 * 60.0
    not_found_limit: int = 3  # "task not found" this many times in a row: stop


@dataclass
class RunnerConfig:
    library: Path
    inputs_dir: Path
    name_template: str = naming.DEFAULT_TEMPLATE
    concurrency: int | None = None  # None: the account's limit as the server reports it
    max_parallel_uploads: int = 2
    poll: PollPolicy = field(default_factory=PollPolicy)
    capacity_wait: float = 10.0  # first wait after "concurrency limit reached"
    capacity_wait_max: float = 60.0
    strip_gps: bool = True


@dataclass(frozen=True)
class ResultTarget:
    """Where one task's results go instead of the library (a batch's output folder).

    `name` is a file-name pattern for naming.render plus `{ext}` (e.g. "beach_edit{n}.{ext}");
    subfolders in it stay inside `folder`. `overwrite` replaces a file already there (the user
    chose so); otherwise a free name is taken, as in the library.
    """

    folder: Path
    name: str
    overwrite: bool = False


class _Slots:
    """A counting semaphore whose limit can change while tasks wait."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.used = 0
        self._cond = asyncio.Condition()

    async def acquire(self) -> None:
        async with self._cond:
            await self._cond.wait_for(lambda: self.used < self.limit)
            self.used += 1

    async def release(self) -> None:
        async with self._cond:
            self.used -= 1
            self._cond.notify_all()

    async def set_limit(self, limit: int) -> None:
        async with self._cond:
            self.limit = max(1, limit)
            self._cond.notify_all()


class TaskCancelled(Exception):
    pass


Listener = Callable[[TaskEvent], None]


class JobRunner:
    def __init__(
        self,
        store: Store,
        client: RunningHubClient,
        config: RunnerConfig,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.client = client
        self.config = config
        self._sleep = sleep
        self._clock = clock
        self._listeners: list[Listener] = []
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._slots: _Slots | None = None
        self._slots_lock = asyncio.Lock()
        self._uploads = asyncio.Semaphore(max(1, config.max_parallel_uploads))
        self._in_submit: set[int] = set()
        self._cancel_local: set[int] = set()
        # Per-task submit gates (a paused batch): cleared = hold before sending, no slot taken.
        self._gates: dict[int, asyncio.Event] = {}
        self._closed = False

    # -- events -----------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, event: TaskEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not break the pipeline
                log.exception("task event listener failed")

    def _status(self, task_id: int, status: str, message: str = "", **fields) -> None:
        error = fields.pop("_error", None)
        self.store.set_status(task_id, status, message, **fields)
        rec = self.store.get(task_id)
        self._emit(
            TaskEvent(
                task_id=task_id,
                status=status,
                message=message,
                remote_id=rec.remote_id,
                remote_status=rec.remote_status,
                results=tuple(rec.result_paths),
                error=error
                if error is not None
                else (rec.error_message if status in (S.FAILED, S.UNKNOWN, S.GAVE_UP) else None),
                error_code=rec.error_code,
                final=status in S.FINAL_STATES or status in (S.UNKNOWN, S.GAVE_UP),
            )
        )

    # -- public -----------------------------------------------------------------------------
    async def start_task(
        self,
        spec,
        batch_id: str | None = None,
        *,
        output: ResultTarget | None = None,
        batch_item: int | None = None,
        gate: asyncio.Event | None = None,
    ) -> int:
        """Persist a new task (before anything is sent) and start it. Returns its local id.

        `output`: save the results there instead of the library. `batch_item`: the batch item
        this task is made for (linked in the same transaction). `gate`: while cleared, the task
        is prepared and uploaded but not sent."""
        task_id = self.store.create_task(
            spec,
            self.client.base_url,
            batch_id=batch_id,
            out_dir=str(output.folder) if output else None,
            out_name=output.name if output else None,
            out_overwrite=bool(output and output.overwrite),
            batch_item=batch_item,
        )
        self._emit(TaskEvent(task_id, S.PENDING, _("Waiting to start")))
        if gate is not None:
            self._gates[task_id] = gate
        self._spawn(task_id)
        return task_id

    async def resume(
        self, task_ids: Iterable[int] | None = None, *, gate: asyncio.Event | None = None
    ) -> list[int]:
        """Pick up unfinished tasks after a restart (all, or only `task_ids`); returns the ids
        taken up again. `gate` as in start_task."""
        wanted = None if task_ids is None else set(task_ids)
        resumed: list[int] = []
        for rec in self.store.unfinished():
            if rec.id in self._tasks or (wanted is not None and rec.id not in wanted):
                continue
            if rec.status == S.UNKNOWN or (
                not rec.remote_id and rec.submit_state == S.SUBMIT_SENDING
            ):
                if rec.status != S.UNKNOWN:
                    self._mark_unknown(rec.id)
                else:
                    self._emit(TaskEvent(rec.id, S.UNKNOWN, error=rec.error_message, final=True))
                continue
            if rec.status == S.SUCCEEDED and not rec.remote_id:
                continue
            if wanted is None and rec.batch_id and not rec.remote_id:
                # a batch photo not yet sent waits for the user to continue its batch
                continue
            resumed.append(rec.id)
            if gate is not None:
                self._gates[rec.id] = gate
            self._spawn(rec.id)
        return resumed

    async def run_again(self, task_id: int) -> int:
        """A new task with the same parameters, uploading again from the local copies (the old
        upload links expire after a day). Returns the new task's id."""
        rec = self.store.get(task_id)
        for item in rec.inputs:
            have_copy = item.local_path and Path(item.local_path).exists()
            if not have_copy and not Path(item.source_path).exists():
                raise FileNotFoundError(
                    _(
                        "The input {name} is no longer on this computer, so the task cannot "
                        "run again.",
                        name=Path(item.source_path).name,
                    )
                )
        new_id = self.store.create_task(rec.spec, self.client.base_url, batch_id=rec.batch_id)
        for item in rec.inputs:
            if item.local_path and Path(item.local_path).exists():
                # the prepared copy is reused as is: no second preparation, same pixels
                self.store.set_input(
                    new_id, item.idx, local_path=item.local_path, content_type=item.content_type,
                    width=item.width, height=item.height, notes=item.notes,
                )  # fmt: skip
        self._emit(TaskEvent(new_id, S.PENDING, _("Waiting to start")))
        self._spawn(new_id)
        return new_id

    async def check_again(self, task_id: int) -> None:
        """Poll a task that was given up on (or download results again) now."""
        rec = self.store.get(task_id)
        if not rec.remote_id:
            raise ValueError("This task never reached RunningHub, so there is nothing to check.")
        if task_id not in self._tasks:
            self._spawn(task_id)

    async def cancel(self, task_id: int) -> str:
        """Stop a task. Before submit: cancelled locally, nothing is charged. After submit: asks
        RunningHub to cancel; if it cannot, rhdesk keeps watching so a late result is saved."""
        rec = self.store.get(task_id)
        if rec.is_final:
            return _("This task has already finished.")
        if not rec.remote_id and task_id not in self._in_submit:
            self._cancel_local.add(task_id)
            task = self._tasks.get(task_id)
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            rec = self.store.get(task_id)
            if rec.is_final or rec.remote_id:
                return _("Stopped.")
            msg = _("Cancelled before it was sent; nothing was charged.")
            self._status(task_id, S.CANCELLED, msg)
            return msg
        self.store.update(task_id, cancel_requested=1)
        if not rec.remote_id:
            return _("Stopping as soon as RunningHub confirms the task.")
        return await self._cancel_remote(task_id, rec.remote_id)

    async def _cancel_remote(self, task_id: int, remote_id: str) -> str:
        try:
            await self.client.cancel(remote_id)
        except E.RunningHubError as exc:
            msg = _(
                "RunningHub could not cancel this task; it may still finish and be charged. "
                "rhdesk keeps watching it and saves the result if one arrives."
            )
            log.info("cancel of %s refused: %s", remote_id, exc)
            self._emit(TaskEvent(task_id, self.store.get(task_id).status, msg, remote_id=remote_id))
            return msg
        msg = _("RunningHub accepted the cancellation.")
        self._emit(TaskEvent(task_id, self.store.get(task_id).status, msg, remote_id=remote_id))
        return msg

    async def wait(self, task_id: int) -> TaskRecord:
        task = self._tasks.get(task_id)
        if task:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(task)
        return self.store.get(task_id)

    async def wait_all(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    def active_ids(self) -> list[int]:
        return list(self._tasks)

    async def aclose(self) -> None:
        """Stop driving tasks (they stay resumable in the database); nothing remote is cancelled."""
        self._closed = True
        tasks = list(self._tasks.values())
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- driving one task -------------------------------------------------------------------
    def _spawn(self, task_id: int) -> None:
        task = asyncio.get_running_loop().create_task(
            self._drive(task_id), name=f"rhdesk-task-{task_id}"
        )
        self._tasks[task_id] = task
        task.add_done_callback(lambda _t, i=task_id: self._forget(i))

    def _forget(self, task_id: int) -> None:
        self._tasks.pop(task_id, None)
        self._gates.pop(task_id, None)

    async def _drive(self, task_id: int) -> None:
        try:
            rec = self.store.get(task_id)
            if not rec.remote_id:
                await self._prepare(rec)
                await self._upload(task_id)
                slots = await self._remote_slots()
                await self._acquire_for_submit(task_id, slots)
                try:
                    if not await self._submit(task_id):
                        return
                    await self._poll(task_id)
                finally:
                    await slots.release()
            elif not self.store.get(task_id).is_final:
                slots = await self._remote_slots()
                await slots.acquire()
                try:
                    await self._poll(task_id)
                finally:
                    await slots.release()
            await self._download(task_id)
        except asyncio.CancelledError:
            if task_id in self._cancel_local:
                return
            raise
        except _Stop:
            return
        except ImageProblem as exc:
            self._fail(task_id, str(exc), None)
        except E.RunningHubError as exc:
            self._fail(task_id, str(exc), exc.code)
        except Exception as exc:  # a bug must show as a failed task, never as a silent hang
            log.exception("task %s crashed", task_id)
            self._fail(
                task_id, _("Unexpected error: {error}", error=f"{type(exc).__name__}: {exc}"), None
            )

    def _fail(self, task_id: int, message: str, code: str | None) -> None:
        rec = self.store.get(task_id)
        if rec.remote_id and not rec.is_final and rec.status != S.DOWNLOADING:
            # The task exists remotely: keep it resumable instead of calling it failed.
            self._status(task_id, S.GAVE_UP, message, error_message=message, error_code=code)
        else:
            self._status(task_id, S.FAILED, message, error_message=message, error_code=code)

    async def _acquire_for_submit(self, task_id: int, slots: _Slots) -> None:
        """A slot to send in, but only while the task's gate (if any) is open. A held task gives
        its slot back, so a paused batch never blocks other work."""
        gate = self._gates.get(task_id)
        while True:
            if gate is not None and not gate.is_set():
                self._status(task_id, S.PENDING, _("Paused: waiting to be sent"))
                await gate.wait()
                await self._upload(task_id)  # links may have expired during a long pause
            await slots.acquire()
            if gate is None or gate.is_set():
                return
            await slots.release()

    async def _prepare(self, rec: TaskRecord) -> None:
        todo = [i for i in rec.inputs if not (i.local_path and Path(i.local_path).exists())]
        if not todo:
            return
        self._status(rec.id, S.PREPARING, _("Preparing {n} image(s)", n=len(rec.inputs)))
        folder = self.config.inputs_dir / rec.uid
        loop = asyncio.get_running_loop()
        limits = rec.spec.model.inputs
        options = {"strip_gps": self.config.strip_gps}
        if limits is not None:
            options.update(max_bytes=limits.max_bytes, formats=limits.formats)
        for item in todo:
            prepared = await loop.run_in_executor(
                None, lambda p=Path(item.source_path): prepare_image(p, **options)
            )
            dest = folder / f"{item.idx:02d}_{prepared.filename}"
            await loop.run_in_executor(None, _write_atomic, dest, prepared.data)
            self.store.set_input(
                rec.id,
                item.idx,
                local_path=str(dest),
                content_type=prepared.content_type,
                width=prepared.width,
                height=prepared.height,
                notes="\n".join(prepared.notes),
            )

    async def _upload(self, task_id: int) -> None:
        rec = self.store.get(task_id)
        now = time.time()
        todo = [
            i
            for i in rec.inputs
            if not i.uploaded_url or not i.uploaded_at or now - i.uploaded_at > UPLOAD_LINK_TTL
        ]
        if not todo:
            return
        count = len(rec.inputs)
        loop = asyncio.get_running_loop()
        for item in todo:
            n = item.idx + 1
            self._status(
                task_id, S.UPLOADING, _("Uploading image {n} of {count}", n=n, count=count)
            )
            data = await loop.run_in_executor(None, Path(item.local_path).read_bytes)
            last = [0.0]

            def progress(sent: int, total: int, n: int = n, last: list[float] = last) -> None:
                t = self._clock()
                if sent < total and t - last[0] < 0.1:
                    return
                last[0] = t
                self._emit(
                    TaskEvent(
                        task_id,
                        S.UPLOADING,
                        _("Uploading image {n} of {count}", n=n, count=count),
                        upload_index=n,
                        upload_count=count,
                        upload_sent=sent,
                        upload_total=total,
                    )
                )

            async with self._uploads:
                result = await self.client.upload(
                    data,
                    Path(item.local_path).name,
                    content_type=item.content_type or "image/png",
                    progress=progress,
                )
            self.store.set_input(
                task_id, item.idx, uploaded_url=result.download_url, uploaded_at=time.time()
            )

    async def _remote_slots(self) -> _Slots:
        async with self._slots_lock:
            if self._slots is None:
                limit = self.config.concurrency
                try:
                    q = await self.client.queue_status()
                    if q.concurrent_limit:
                        limit = min(limit, q.concurrent_limit) if limit else q.concurrent_limit
                except E.RunningHubError as exc:
                    log.info("queue status unavailable (%s); using %s", exc, limit or 1)
                self._slots = _Slots(limit or 1)
            return self._slots

    async def concurrency_limit(self) -> int:
        """How many tasks may be on RunningHub at once (the account's limit or a lower setting)."""
        return (await self._remote_slots()).limit

    async def set_concurrency(self, limit: int) -> None:
        self.config.concurrency = limit
        slots = await self._remote_slots()
        await slots.set_limit(limit)

    async def _submit(self, task_id: int) -> bool:
        """Returns False when the task ended here (failed, unknown or cancelled)."""
        rec = self.store.get(task_id)
        urls = [i.uploaded_url or "" for i in rec.inputs]
        body = rec.spec.request_body(urls)
        wait = self.config.capacity_wait
        while True:
            if task_id in self._cancel_local:
                raise asyncio.CancelledError
            self._in_submit.add(task_id)
            self._status(
                task_id, S.SUBMITTING, _("Sending to RunningHub"), submit_state=S.SUBMIT_SENDING
            )
            try:
                state = await self.client.submit(rec.endpoint, body)
            except E.RequestNeverSentError as exc:
                self._in_submit.discard(task_id)
                self._status(
                    task_id, S.FAILED, str(exc), submit_state=S.SUBMIT_NONE,
                    error_message=_("{error} Nothing was sent, so nothing was charged.", error=str(exc)),
                    error_code=exc.code,
                )  # fmt: skip
                return False
            except E.OutcomeUnknownError:
                self._in_submit.discard(task_id)
                self._mark_unknown(task_id)
                return False
            except CAPACITY_ERRORS as exc:
                self._in_submit.discard(task_id)
                if exc.http_status and exc.http_status >= 500 and exc.http_status != 503:
                    # A server error after the request arrived: not provably "nothing created",
                    # so it is not resent blindly.
                    msg = _(
                        "{reason} The task was most likely not started; check the call record "
                        "on RunningHub if unsure, then run it again.",
                        reason=exc.message,
                    )
                    self._status(
                        task_id, S.FAILED, msg, submit_state=S.SUBMIT_REFUSED,
                        error_message=msg, error_code=exc.code,
                    )  # fmt: skip
                    return False
                # The server answered "not now": nothing was created, so trying again is safe.
                self._status(
                    task_id, S.PENDING,
                    _("{reason} Trying again in {seconds} s.", reason=exc.message, seconds=f"{wait:.0f}"), submit_state=S.SUBMIT_REFUSED,
                )  # fmt: skip
                await self._sleep(wait)
                wait = min(self.config.capacity_wait_max, wait * 1.5)
                continue
            except E.RunningHubError as exc:
                self._in_submit.discard(task_id)
                self._status(
                    task_id, S.FAILED, str(exc), submit_state=S.SUBMIT_REFUSED,
                    error_message=str(exc), error_code=exc.code,
                )  # fmt: skip
                return False
            except BaseException:
                # Cancelled or crashed mid-request: the submit may have reached the server.
                self._in_submit.discard(task_id)
                with contextlib.suppress(Exception):
                    self._mark_unknown(task_id)
                raise
            break
        self._in_submit.discard(task_id)
        status = S.RUNNING if state.status == TaskStatus.RUNNING else S.QUEUED
        self._status(
            task_id, status, _("Sent to RunningHub"), remote_id=state.task_id,
            remote_status=state.status.value, submit_state=S.SUBMIT_ACCEPTED,
            submitted_at=time.time(),
        )  # fmt: skip
        if self.store.get(task_id).cancel_requested:
            await self._cancel_remote(task_id, state.task_id)
        return True

    def _mark_unknown(self, task_id: int) -> None:
        msg = _(
            "The connection dropped while the task was being sent, so it is not known whether "
            "RunningHub started it (and charged for it). Check your call record on RunningHub "
            "before running it again; rhdesk will not resend it by itself."
        )
        self._status(task_id, S.UNKNOWN, msg, error_message=msg)

    async def _poll(self, task_id: int) -> None:
        rec = self.store.get(task_id)
        policy = self.config.poll
        started = self._clock()
        submitted_wall = rec.submitted_at or time.time()
        interval = policy.first
        not_found = 0
        last_status = rec.status
        while True:
            try:
                state = await self.client.query(rec.remote_id)
                not_found = 0
            except E.TaskNotFoundError as exc:
                not_found += 1
                if not_found >= policy.not_found_limit:
                    msg = f"{exc.message} {exc.advice}"
                    self._status(task_id, S.GAVE_UP, msg, error_message=msg, error_code=exc.code)
                    raise _Stop from None
                state = None
            except E.RunningHubError as exc:
                if not exc.retryable:
                    raise
                log.info("poll of task %s failed (%s); will retry", task_id, exc)
                state = None
            if state is not None:
                if await self._apply_state(task_id, state, last_status, submitted_wall):
                    return
                last_status = self.store.get(task_id).status
            if self._clock() - started > policy.give_up_after:
                msg = _(
                    "Stopped checking after {minutes} minutes; the task may still be running on "
                    "RunningHub. Use “Check again” later.",
                    minutes=f"{policy.give_up_after / 60:.0f}",
                )
                self._status(task_id, S.GAVE_UP, msg, error_message=msg)
                raise _Stop
            await self._sleep(interval)
            interval = min(policy.max_interval, interval * policy.factor)

    async def _apply_state(
        self, task_id: int, state: TaskState, last_status: str, submitted_wall: float
    ) -> bool:
        """Record a query reply; True when the task reached a final state."""
        elapsed = time.time() - submitted_wall
        st = state.status
        if st == TaskStatus.SUCCESS:
            self.store.set_results(task_id, [(r.url, r.output_type) for r in state.results])
            usage = state.usage
            self.store.update(
                task_id,
                remote_status=st.value,
                usage=(usage.__dict__ if usage else None),
                cost_money=usage.consume_money if usage else None,
                cost_coins=usage.consume_coins if usage else None,
            )
            if not state.results:
                msg = _("RunningHub reported success but returned no image.")
                self._status(task_id, S.FAILED, msg, error_message=msg)
            return True
        if st == TaskStatus.FAILED:
            err = E.error_for_code(
                state.error_code or None,
                state.error_message or state.failed_reason or None,
                default=E.TaskFailedError,
            )
            self._status(
                task_id, S.FAILED, str(err), remote_status=st.value,
                error_message=str(err), error_code=state.error_code or None,
            )  # fmt: skip
            return True
        if st == TaskStatus.CANCEL:
            self._status(
                task_id, S.CANCELLED, _("Cancelled on RunningHub."), remote_status=st.value
            )
            return True
        status = S.RUNNING if st == TaskStatus.RUNNING else S.QUEUED
        label = _("Running") if status == S.RUNNING else _("Queued on RunningHub")
        if status != last_status:
            self._status(task_id, status, label, remote_status=st.value)
        self._emit(
            TaskEvent(
                task_id, status, label, remote_id=state.task_id or None,
                remote_status=st.value, elapsed=elapsed,
            )
        )  # fmt: skip
        return False

    @staticmethod
    def _embed_metadata(rec: TaskRecord, dest: Path) -> None:
        from rhdesk.core.metadata import embed_metadata

        embed_metadata(
            dest, source=_source_for_metadata(rec), prompt=rec.prompt, model=rec.endpoint,
            task_id=str(rec.id), remote_id=rec.remote_id,
        )  # fmt: skip

    async def _download(self, task_id: int) -> None:
        rec = self.store.get(task_id)
        if rec.status in (S.FAILED, S.CANCELLED, S.GAVE_UP, S.UNKNOWN) and not any(
            r.state == S.RESULT_PENDING for r in rec.results
        ):
            return
        pending = [r for r in rec.results if r.state == S.RESULT_PENDING]
        if not pending:
            if rec.status != S.SUCCEEDED and rec.results:
                self._status(task_id, S.SUCCEEDED, _("Done"))
            return
        self._status(task_id, S.DOWNLOADING, _("Downloading {n} result(s)", n=len(pending)))
        source = Path(rec.spec.inputs[0]).stem if rec.spec.inputs else "text"
        when = datetime.fromtimestamp(rec.created_at)
        expired, failed = 0, []
        for r in pending:
            if r.local_path:  # a download cut short by a crash or a kill
                _unlink(Path(r.local_path + ".part"))
            ext = naming.safe_extension(r.output_type or _url_ext(r.url))
            fields = naming.NameFields(
                source=source, model=rec.spec.model.family, when=when, n=r.idx + 1,
                task=str(task_id), prompt=rec.prompt,
            )  # fmt: skip
            dest = await asyncio.get_running_loop().run_in_executor(
                None, self._reserve_dest, rec, fields, ext
            )
            part = dest.with_name(dest.name + ".part")
            # Remember the claimed name: after a crash the leftover .part is found and removed.
            self.store.set_result(task_id, r.idx, local_path=str(dest))
            try:
                size = await self.client.download(r.url, part)
                await asyncio.get_running_loop().run_in_executor(None, _finish_file, part, dest)
            except E.ResultExpiredError as exc:
                _unlink(part)
                expired += 1
                self.store.set_result(task_id, r.idx, state=S.RESULT_EXPIRED, error=str(exc))
                continue
            except E.RunningHubError as exc:
                _unlink(part)
                if exc.retryable:
                    failed.append(str(exc))
                    continue
                self.store.set_result(task_id, r.idx, state=S.RESULT_FAILED, error=str(exc))
                failed.append(str(exc))
                continue
            except BaseException:
                _unlink(part)
                raise
            if rec.batch_id is None:  # a batch embeds its own (and records that it did)
                await asyncio.get_running_loop().run_in_executor(
                    None, self._embed_metadata, rec, dest
                )
            self.store.set_result(
                task_id, r.idx, state=S.RESULT_SAVED, local_path=str(dest), bytes=size
            )
        rec = self.store.get(task_id)
        saved = len(rec.result_paths)
        still_pending = [r for r in rec.results if r.state == S.RESULT_PENDING]
        if still_pending:
            msg = _(
                "Could not download {n} result(s) yet: {error}",
                n=len(still_pending),
                error=failed[-1],
            )
            self._status(task_id, S.GAVE_UP, msg, error_message=msg)
        elif saved == 0:
            msg = (
                str(E.ResultExpiredError())
                if expired
                else (failed[-1] if failed else _("No result"))
            )
            self._status(task_id, S.FAILED, msg, error_message=msg)
        else:
            note = None
            if expired:
                note = f"{expired} of {len(rec.results)} result link(s) expired before download."
            self._status(task_id, S.SUCCEEDED, _("Done"), error_message=note)

    def _reserve_dest(self, rec: TaskRecord, fields: naming.NameFields, ext: str) -> Path:
        if not rec.out_dir:
            return naming.reserve_result_path(
                self.config.library, self.config.name_template, fields, ext
            )
        folder = Path(rec.out_dir)
        # "{ext}" is not a naming field: fill it in and let the naming code add the extension.
        template = (rec.out_name or naming.DEFAULT_TEMPLATE).replace("{ext}", ext)
        template = template.removesuffix(f".{ext}")
        if rec.out_overwrite:
            exact = _exact_result_path(folder, template, fields, ext)
            exact.parent.mkdir(parents=True, exist_ok=True)
            try:
                with open(exact.with_name(exact.name + ".part"), "xb"):
                    return exact  # the rename replaces the old file, as the user chose
            except FileExistsError:
                pass  # another download is writing that very name: keep both instead
        return naming.reserve_result_path(folder, template, fields, ext)


class _Stop(Exception):
    """The task left the pipeline in a resumable state (already recorded)."""


def _write_atomic(dest: Path, data: bytes) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, dest)


def _exact_result_path(folder: Path, template: str, fields: naming.NameFields, ext: str) -> Path:
    """The rendered name itself (no " (2)"), sanitised like naming.result_path and checked to
    stay inside `folder`."""
    parts = [
        naming.safe_component(p)
        for p in re.split(r"[/\\]+", naming.render(template, fields))
        if p.strip() not in ("", ".", "..")
    ] or [naming.safe_component(fields.source)]
    folder = folder.resolve()
    path = folder.joinpath(*parts[:-1], f"{parts[-1]}.{ext}").resolve()
    if folder not in path.parents:
        raise naming.TemplateError("The file name would leave the results folder.")
    return path


def _source_for_metadata(rec: TaskRecord) -> Path | None:
    if not rec.inputs:
        return None
    first = rec.inputs[0]
    for candidate in (first.source_path, first.local_path):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    return None


def _finish_file(part: Path, dest: Path) -> None:
    with open(part, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(part, dest)


def _unlink(p: Path) -> None:
    with contextlib.suppress(OSError):
        p.unlink()


def _url_ext(url: str) -> str:
    tail = url.split("?", 1)[0].rsplit("/", 1)[-1]
    return tail.rsplit(".", 1)[-1] if "." in tail else ""
