"""Batch retouch: one prompt over a folder of photos, each photo its own task (no Qt).

The steps, each usable on its own by the command line and the window:

1. `collect_sources`: the photos in folders and dropped files, without OS junk.
2. `check_sources`: every file through input preparation (a full decode) in a thread pool, so
   unusable files are known, with the reason, before anything is sent.
3. `plan_batch`: per photo the output size (fixed, or following the photo's aspect ratio), the
   output folder (mirroring the source subfolders) and the file-name pattern; existing files are
   found here, so "overwrite / keep both / skip" is asked once, up front.
4. `estimate_cost`: tasks, images, price and the account balance; `CostEstimate.enough`.
5. `create_batch` persists the plan; `BatchRunner` feeds its items to the JobRunner a few at a
   time (the account's concurrency plus a small prefetch), so pause, reorder and cancel act on
   photos not yet started and a 500-photo batch does not upload everything at once.

The database is the truth: an item knows its latest task, a task row is linked to its item in the
same transaction that creates it, and an item's state follows its task's. A crash or a closed
window loses nothing; the batch continues only when asked (`BatchRunner.run` again).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import logging
import math
import os
import re
import stat
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from rhdesk.api import errors as E
from rhdesk.core import naming
from rhdesk.core.catalogue import ModelSpec, get_model
from rhdesk.core.imageops import ImageProblem
from rhdesk.core.metadata import embed_metadata
from rhdesk.core.prepare import SUPPORTED_EXTENSIONS, inspect_image, prepare_image
from rhdesk.core.sizes import match_aspect
from rhdesk.core.task import TaskSpec
from rhdesk.core.validation import check_images, check_prompt, check_size
from rhdesk.jobs.events import TaskEvent
from rhdesk.jobs.pipeline import JobRunner, ResultTarget
from rhdesk.store import db as S
from rhdesk.store.db import BatchItemRecord, Store, TaskRecord

log = logging.getLogger("rhdesk.batch")

DEFAULT_TEMPLATE = "{stem}_edit{n}.{ext}"
REPORT_NAME = "batch-report.csv"
# Tasks handed to the JobRunner beyond the concurrency limit: enough that the next photo is
# prepared and uploaded while the others run, few enough that pause and reorder still matter.
PREFETCH = 2
# Decoding is Pillow work that releases the GIL; more threads than cores only add memory.
CHECK_WORKERS = max(1, min(4, os.cpu_count() or 2))
REPORT_INTERVAL = 1.0  # seconds between rewrites of the report while the batch runs
WATCHDOG_INTERVAL = 2.0  # seconds between checks that every running item is still driven
MIN_COMPLETIONS_FOR_ETA = 2

# RunningHub does not document a coin rate. The emulator charges 20 coins per image and 100 coins
# per CNY matches that for v4.5 (¥0.20); the check takes the larger, so it errs towards refusing
# rather than running dry mid-batch (which is handled too, by pausing).
COINS_PER_CNY = 100
MIN_COINS_PER_IMAGE = 20
BALANCE_CODES = frozenset({"416", "812"})

# What to do when a result name already exists in the output folder.
KEEP_BOTH, OVERWRITE, SKIP = "keep", "overwrite", "skip"
CONFLICT_POLICIES = (KEEP_BOTH, OVERWRITE, SKIP)

# Item states. `active`: a task exists and is not finished; its own state says more.
UNUSABLE = "unusable"  # input preparation refused the file
SKIPPED = "skipped"  # its result exists and the user chose "skip"
PENDING = "pending"  # not started yet
ACTIVE = "active"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"
UNKNOWN = "unknown"  # the submit's outcome is unknown: never resent by itself
GAVE_UP = "gave_up"  # stopped watching a task that may still run on RunningHub
FINISHED_STATES = frozenset({DONE, FAILED, CANCELLED, UNKNOWN, GAVE_UP, UNUSABLE, SKIPPED})
RETRYABLE_STATES = frozenset({FAILED, CANCELLED, UNKNOWN, GAVE_UP})
_NOT_SENT = frozenset({S.PENDING, S.PREPARING, S.UPLOADING})

_JUNK_FILES = frozenset(
    {".ds_store", "thumbs.db", "ehthumbs.db", "ehthumbs_vista.db", "desktop.ini", "icon\r"}
)
_JUNK_DIRS = frozenset(
    {"__macosx", "$recycle.bin", "system volume information", ".trashes", ".spotlight-v100",
     ".fseventsd", "@eadir", ".thumbnails"}
)  # fmt: skip
_RAW_SUFFIXES = frozenset(
    {".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".dng", ".raf", ".orf",
     ".rw2", ".pef", ".srw", ".x3f", ".3fr", ".erf", ".kdc", ".mos", ".mrw", ".iiq", ".rwl"}
)  # fmt: skip
# In a folder, only these are candidates: sidecars (.xmp), notes and videos are not "unusable
# photos" and listing each one would bury the real problems. RAW files are listed, with the reason.
CANDIDATE_SUFFIXES = frozenset(SUPPORTED_EXTENSIONS) | _RAW_SUFFIXES
_WIN_HIDDEN = 0x2  # FILE_ATTRIBUTE_HIDDEN


class BatchSetupError(ValueError):
    """The batch cannot be planned as asked; the text says why in plain words."""


# --- 1. sources -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceFile:
    path: Path
    rel: PurePosixPath  # where it sits below the chosen folder (mirrored in the output)


@dataclass
class Collected:
    sources: list[SourceFile]
    ignored: int  # junk, hidden and non-image files left out


def is_junk(path: Path) -> bool:
    """OS litter and hidden files: .DS_Store, ._AppleDouble, Thumbs.db, desktop.ini, dot files,
    and files the OS marks hidden."""
    name = path.name
    if name.startswith(".") or name.lower() in _JUNK_FILES:
        return True
    try:
        st = path.lstat()
    except OSError:
        return False
    if getattr(st, "st_file_attributes", 0) & _WIN_HIDDEN:
        return True
    return bool(getattr(st, "st_flags", 0) & getattr(stat, "UF_HIDDEN", 0))


def _junk_dir(path: Path) -> bool:
    return path.name.startswith(".") or path.name.lower() in _JUNK_DIRS or is_junk(path)


def _natural_key(rel: PurePosixPath) -> list[Any]:
    # IMG_2 before IMG_10, case-insensitively: the order a photographer expects.
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", str(rel))]


def collect_sources(paths: Iterable[Path], *, recursive: bool = False) -> Collected:
    """Photos in `paths` (folders and files). One folder alone is the root of the mirrored output;
    with several, each keeps its own name as the first level."""
    paths = [Path(p) for p in paths]
    folders = [p for p in paths if p.is_dir()]
    single_root = len(folders) == 1 and len(paths) == 1
    found: list[SourceFile] = []
    ignored = 0
    for p in paths:
        if p.is_dir():
            prefix = PurePosixPath() if single_root else PurePosixPath(p.name)
            for dirpath, dirnames, filenames in os.walk(p):
                here = Path(dirpath)
                if recursive:
                    keep = [d for d in dirnames if not _junk_dir(here / d)]
                    ignored += len(dirnames) - len(keep)
                    dirnames[:] = keep
                else:
                    dirnames[:] = []
                for name in filenames:
                    f = here / name
                    if is_junk(f) or f.suffix.lower() not in CANDIDATE_SUFFIXES:
                        ignored += 1
                        continue
                    found.append(SourceFile(f, prefix / f.relative_to(p).as_posix()))
        elif is_junk(p):
            ignored += 1
        else:
            # Dropped on purpose: checked whatever its extension (a JPEG without one is fine).
            found.append(SourceFile(p, PurePosixPath(p.name)))
    seen: set[Path] = set()
    unique: list[SourceFile] = []
    for s in sorted(found, key=lambda s: _natural_key(s.rel)):
        key = s.path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(s)
    return Collected(unique, ignored)


# --- 2. checks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedSource:
    source: SourceFile
    width: int | None  # as displayed (after EXIF orientation)
    height: int | None
    problem: str | None  # why it cannot be used, in plain words
    notes: tuple[str, ...] = ()

    @property
    def usable(self) -> bool:
        return self.problem is None


def check_source(source: SourceFile, model: ModelSpec, *, strip_gps: bool = True) -> CheckedSource:
    """Blocking: header facts, then a full prepare (decode + encode) whose bytes are dropped."""
    options: dict[str, Any] = {"strip_gps": strip_gps}
    if model.inputs is not None:
        options.update(max_bytes=model.inputs.max_bytes, formats=model.inputs.formats)
    try:
        info = inspect_image(source.path, **options)
        prepare_image(source.path, **options)
    except ImageProblem as exc:
        return CheckedSource(source, None, None, str(exc))
    except Exception as exc:  # a bug or an exotic file: that photo is unusable, not the batch
        log.exception("checking %s failed", source.path)
        return CheckedSource(source, None, None, f"{source.path.name} could not be read ({exc}).")
    return CheckedSource(source, info.width, info.height, None, info.notes)


async def check_sources(
    sources: Sequence[SourceFile],
    model: ModelSpec,
    *,
    strip_gps: bool = True,
    workers: int = CHECK_WORKERS,
    progress: Callable[[int, int], None] | None = None,
) -> list[CheckedSource]:
    """Check every file off the event loop, several at once; results in the sources' order."""
    loop = asyncio.get_running_loop()
    done = 0
    # A pool of its own: a long check must not starve the pipeline's use of the default one.
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="rhdesk-check")
    try:
        futures = [
            loop.run_in_executor(pool, lambda s=s: check_source(s, model, strip_gps=strip_gps))
            for s in sources
        ]
        for fut in asyncio.as_completed(futures):
            await fut
            done += 1
            if progress is not None:
                progress(done, len(futures))
        return [f.result() for f in futures]
    finally:
        # Never wait here: on cancel the event loop must not block on checks still running.
        pool.shutdown(wait=False, cancel_futures=True)


async def check_references(
    paths: Sequence[Path], model: ModelSpec, *, strip_gps: bool = True
) -> list[str]:
    """Problems of the shared reference images (empty when all are usable)."""
    checked = await check_sources(
        [SourceFile(Path(p), PurePosixPath(Path(p).name)) for p in paths], model,
        strip_gps=strip_gps,
    )  # fmt: skip
    return [c.problem for c in checked if c.problem]


# --- 3. plan --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchSettings:
    prompt: str
    endpoint: str  # an image-to-image model
    out_root: Path
    size: tuple[int, int] | None = None  # None: follow each photo's aspect ratio
    tier: str | None = None  # with size None: "2K", "4K"…; None = the model's usual size
    references: tuple[Path, ...] = ()
    template: str = DEFAULT_TEMPLATE
    conflict: str = KEEP_BOTH
    concurrency: int | None = None  # a lower limit than the account's

    @property
    def model(self) -> ModelSpec:
        return get_model(self.endpoint)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["out_root"] = str(self.out_root)
        d["references"] = [str(p) for p in self.references]
        d["size"] = list(self.size) if self.size else None
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> BatchSettings:
        return cls(
            prompt=d["prompt"],
            endpoint=d["endpoint"],
            out_root=Path(d["out_root"]),
            size=tuple(d["size"]) if d.get("size") else None,  # type: ignore[arg-type]
            tier=d.get("tier"),
            references=tuple(Path(p) for p in d.get("references", [])),
            template=d.get("template", DEFAULT_TEMPLATE),
            conflict=d.get("conflict", KEEP_BOTH),
            concurrency=d.get("concurrency"),
        )


@dataclass
class PlannedItem:
    source: Path
    rel: PurePosixPath
    state: str  # PENDING, UNUSABLE or SKIPPED
    width: int | None = None  # output size
    height: int | None = None
    out_dir: Path | None = None
    out_name: str | None = None  # pattern for the pipeline: only {n}, {ext}, {task}, {date}…
    error: str | None = None
    existing: list[Path] = field(default_factory=list)  # results already in the output folder


@dataclass
class BatchPlan:
    settings: BatchSettings
    items: list[PlannedItem]
    ignored: int = 0

    @property
    def runnable(self) -> list[PlannedItem]:
        return [i for i in self.items if i.state == PENDING]

    @property
    def unusable(self) -> list[PlannedItem]:
        return [i for i in self.items if i.state == UNUSABLE]

    @property
    def conflicts(self) -> list[PlannedItem]:
        return [i for i in self.items if i.existing]

    @property
    def images_per_task(self) -> int:
        return 1

    @property
    def tasks(self) -> int:
        return len(self.runnable)

    @property
    def images(self) -> int:
        return self.tasks * self.images_per_task


def validate_settings(settings: BatchSettings) -> ModelSpec:
    try:
        model = settings.model
    except KeyError:
        raise BatchSetupError(f"Unknown model {settings.endpoint!r}.") from None
    if not model.takes_images:
        raise BatchSetupError(f"{model.display_name} does not edit photos; pick an edit model.")
    problems = check_prompt(model, settings.prompt)
    problems += check_images(model, 1 + len(settings.references), 1, False)
    if settings.size is not None:
        problems += check_size(model, *settings.size)
    if problems:
        raise BatchSetupError(" ".join(p.message for p in problems))
    if settings.conflict not in CONFLICT_POLICIES:
        raise BatchSetupError(f"Unknown choice for existing files: {settings.conflict!r}.")
    if settings.concurrency is not None and settings.concurrency < 1:
        raise BatchSetupError("The number of tasks at once must be at least 1.")
    output_pattern(settings.template, "example", model.family, settings.prompt)  # raises if bad
    return model


_LATE_FIELDS = ("n", "task", "date", "time")  # known only when the result arrives


def output_pattern(template: str, stem: str, family: str, prompt: str) -> str:
    """The template with the photo's own fields filled in, leaving {n}, {ext}, {task}, {date}
    and {time} for the pipeline (which renders it again: braces in a file name are doubled)."""

    def literal(text: str) -> str:
        return text.replace("{", "{{").replace("}", "}}")

    values = {
        "stem": literal(stem),
        "source": literal(stem),
        "model": literal(family),
        "prompt": literal(" ".join(prompt.split()[:6])),
        "ext": "{ext}",
        **{f: "{" + f + "}" for f in _LATE_FIELDS},
    }
    try:
        pattern = template.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        raise BatchSetupError(
            f"The file-name template {template!r} is not valid ({exc}); use fields like "
            "{stem}, {n}, {ext}, {model}, {date}, {time}, {task}, {prompt}."
        ) from None
    if not pattern.strip():
        raise BatchSetupError("The file-name template is empty.")
    return pattern


def example_name(template: str, *, stem: str = "IMG_0042", family: str = "seedream-v4.5",
                 prompt: str = "", ext: str = "png") -> str:  # fmt: skip
    """What the template makes of one photo (the window's live example)."""
    pattern = output_pattern(template, stem, family, prompt)
    return predicted_name(pattern, stem, family, 1, ext)


def predicted_name(pattern: str, stem: str, family: str, n: int, ext: str) -> str:
    """The relative path (below the item's folder) the pipeline would give result `n`."""
    fields = naming.NameFields(source=stem, model=family, when=datetime.now(), n=n, task="")
    rendered = naming.render(pattern.replace("{ext}", ext), fields).removesuffix(f".{ext}")
    parts = [
        naming.safe_component(p)
        for p in re.split(r"[/\\]+", rendered)
        if p.strip() not in ("", ".", "..")
    ] or [naming.safe_component(stem)]
    return "/".join([*parts[:-1], f"{parts[-1]}.{ext}"])


_LIKELY_EXTENSIONS = ("png", "jpg", "webp")


def _output_folder(root: Path, rel: PurePosixPath) -> Path:
    parts = [
        naming.safe_component(p, "folder") for p in rel.parent.parts if p not in ("", ".", "..")
    ]
    folder = root.joinpath(*parts)
    return folder


def plan_batch(
    settings: BatchSettings, checked: Sequence[CheckedSource], *, ignored: int = 0
) -> BatchPlan:
    """Sizes, output folders and names for every checked photo; conflicts with existing files
    are found (and, with SKIP, those photos are skipped) — nothing is written."""
    model = validate_settings(settings)
    root = settings.out_root.expanduser().resolve()
    items: list[PlannedItem] = []
    taken: set[tuple[str, str]] = set()
    for c in checked:
        src = c.source
        if not c.usable:
            items.append(PlannedItem(src.path, src.rel, UNUSABLE, error=c.problem))
            continue
        assert c.width and c.height
        if settings.size is not None:
            w, h = settings.size
        else:
            w, h = match_aspect(model, c.width, c.height, settings.tier)
        problems = check_size(model, w, h)
        if problems:
            items.append(
                PlannedItem(src.path, src.rel, UNUSABLE, error=" ".join(map(str, problems)))
            )
            continue
        folder = _output_folder(root, src.rel)
        stem = src.path.stem
        pattern = output_pattern(settings.template, stem, model.family, settings.prompt)
        # Two photos that would get the same name (a.jpg and a.png side by side): the later one
        # gets " (2)" in its stem, decided here so every run of the plan names them alike.
        counter = 1
        while (
            str(folder).lower(),
            predicted_name(pattern, stem, model.family, 1, "").lower(),
        ) in taken:
            counter += 1
            pattern = output_pattern(
                settings.template, f"{stem} ({counter})", model.family, settings.prompt
            )
        taken.add((str(folder).lower(), predicted_name(pattern, stem, model.family, 1, "").lower()))
        existing = [
            folder / name
            for ext in _LIKELY_EXTENSIONS
            for n in range(1, 2)
            if (folder / (name := predicted_name(pattern, stem, model.family, n, ext))).exists()
        ]
        state = SKIPPED if existing and settings.conflict == SKIP else PENDING
        error = "Its result already exists in the output folder." if state == SKIPPED else None
        items.append(PlannedItem(src.path, src.rel, state, w, h, folder, pattern, error, existing))
    return BatchPlan(settings, items, ignored)


# --- 4. cost --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostEstimate:
    tasks: int
    images: int
    price_cny: float  # catalogue price × images
    coins: int  # estimated coins
    preview_cny: float | None = None  # the server's price preview × tasks, when it answered
    balance_coins: int | None = None
    balance_money: float | None = None
    currency: str | None = None
    balance_problem: str | None = None  # why the balance is unknown

    @property
    def enough(self) -> bool | None:
        """Whether the balance covers the batch; None when the server did not say."""
        if self.balance_coins is not None:
            return self.balance_coins >= self.coins
        if self.balance_money is not None:
            return self.balance_money >= (self.preview_cny or self.price_cny)
        return None

    def summary(self) -> str:
        price = self.preview_cny if self.preview_cny is not None else self.price_cny
        text = (
            f"{self.tasks} task{'s' if self.tasks != 1 else ''}, {self.images} "
            f"image{'s' if self.images != 1 else ''}, about ¥{price:.2f} ({self.coins:,} coins)"
        )
        if self.balance_coins is not None:
            text += f"; balance {self.balance_coins:,} coins"
        elif self.balance_money is not None:
            text += f"; balance {self.balance_money:,.2f} {self.currency or 'CNY'}"
        else:
            text += "; balance unknown"
        return text

    def shortfall(self) -> str | None:
        if self.enough is not False:
            return None
        if self.balance_coins is not None:
            return (
                f"The balance ({self.balance_coins:,} coins) does not cover this batch "
                f"(about {self.coins:,} coins for {self.images} images). Top up your RunningHub "
                "wallet or choose fewer photos."
            )
        return (
            f"The balance ({self.balance_money:,.2f} {self.currency or 'CNY'}) does not cover this "
            f"batch (about ¥{self.preview_cny or self.price_cny:.2f}). Top up your RunningHub "
            "wallet or choose fewer photos."
        )


def coins_per_image(model: ModelSpec) -> int:
    return max(MIN_COINS_PER_IMAGE, math.ceil(model.price_per_image_cny * COINS_PER_CNY))


async def estimate_cost(
    client: Any, model: ModelSpec, tasks: int, images: int, sample_body: dict[str, Any] | None
) -> CostEstimate:
    """Catalogue price, the server's preview (best effort) and the balance for a batch."""
    price = round(model.price_per_image_cny * images, 2)
    coins = coins_per_image(model) * images
    preview = None
    if sample_body is not None and tasks:
        try:
            p = await client.price_preview(model.endpoint, sample_body)
            if p.estimated_price is not None:
                preview = round(p.estimated_price * tasks, 2)
        except E.RunningHubError as exc:  # [seen], not documented: optional
            log.info("price preview unavailable: %s", exc)
    try:
        account = await client.account_status()
    except E.RunningHubError as exc:
        return CostEstimate(tasks, images, price, coins, preview, balance_problem=str(exc))
    return CostEstimate(
        tasks, images, price, coins, preview,
        balance_coins=account.remain_coins, balance_money=account.remain_money,
        currency=account.currency,
    )  # fmt: skip


def preview_body(plan: BatchPlan) -> dict[str, Any] | None:
    """A body for the price preview: the first photo's task, with placeholder links (nothing is
    uploaded before the user agrees to start)."""
    first = next(iter(plan.runnable), None)
    if first is None:
        return None
    spec = _spec(plan.settings, first.source, first.width or 0, first.height or 0)
    return spec.request_body([f"https://example.invalid/{i}.png" for i in range(len(spec.inputs))])


def _spec(settings: BatchSettings, photo: Path, width: int, height: int) -> TaskSpec:
    return TaskSpec(
        endpoint=settings.endpoint,
        prompt=settings.prompt,
        width=width,
        height=height,
        inputs=[photo, *settings.references],
    )


# --- 5. persistence -------------------------------------------------------------------------------


def create_batch(store: Store, plan: BatchPlan) -> str:
    batch_id = uuid.uuid4().hex[:12]
    rows = [
        {
            "source_path": str(i.source),
            "rel_path": str(i.rel),
            "width": i.width,
            "height": i.height,
            "out_dir": str(i.out_dir) if i.out_dir else None,
            "out_name": i.out_name,
            "state": i.state,
            "error": i.error,
        }
        for i in plan.items
    ]
    settings = plan.settings.to_json() | {"ignored": plan.ignored}
    store.create_batch(batch_id, settings, rows)
    return batch_id


def item_state_for(rec: TaskRecord) -> str:
    if rec.status == S.SUCCEEDED:
        return DONE
    if rec.status == S.FAILED:
        return FAILED
    if rec.status == S.CANCELLED:
        return CANCELLED
    if rec.status == S.UNKNOWN:
        return UNKNOWN
    if rec.status == S.GAVE_UP:
        return GAVE_UP
    return ACTIVE


@dataclass(frozen=True)
class BatchProgress:
    total: int  # photos that are (or were) to be edited: not unusable, not skipped
    done: int
    failed: int  # failed, outcome unknown or given up
    running: int  # sent to RunningHub (or being sent, or downloading)
    pending: int  # not sent yet (includes `preparing`)
    cancelled: int
    unusable: int
    skipped: int
    per_minute: float | None  # None until enough completions to say
    eta_seconds: float | None
    paused: bool
    message: str = ""
    preparing: int = 0  # of the pending: being prepared and uploaded, or waiting for a slot

    @property
    def finished(self) -> bool:
        return self.running == 0 and self.pending == 0

    @property
    def eta_text(self) -> str:
        if self.finished:
            return "finished"
        if self.eta_seconds is None:
            return "estimating…"
        s = int(self.eta_seconds)
        if s < 60:
            return f"{s} s"
        if s < 3600:
            return f"{s // 60} min {s % 60:02d} s"
        return f"{s // 3600} h {s % 3600 // 60:02d} min"

    def line(self) -> str:
        rate = f"{self.per_minute:.1f}/min" if self.per_minute is not None else "–/min"
        return (
            f"{self.done + self.failed + self.cancelled}/{self.total} · {self.done} done · "
            f"{self.failed} failed · {self.running} running · {self.pending} pending · "
            f"{rate} · ETA {self.eta_text}"
        )


def batch_progress(store: Store, batch_id: str) -> BatchProgress:
    """Counts of a batch nobody is running (the batch list), with item states brought up to date
    from their tasks (the window may have finished some after a restart)."""
    items = store.batch_items(batch_id)
    tasks = store.get_many([i.task_id for i in items if i.task_id and i.state == ACTIVE])
    states = [
        item_state_for(tasks[i.task_id]) if i.state == ACTIVE and i.task_id in tasks else i.state
        for i in items
    ]
    batch = store.get_batch(batch_id)
    return _progress_from_states(states, None, None, batch.state == S.BATCH_PAUSED, batch.message)


def _progress_from_states(
    states: Sequence[str],
    per_minute: float | None,
    eta: float | None,
    paused: bool,
    message: str,
    preparing: int = 0,
) -> BatchProgress:
    c: dict[str, int] = {}
    for s in states:
        c[s] = c.get(s, 0) + 1
    unusable, skipped = c.get(UNUSABLE, 0), c.get(SKIPPED, 0)
    return BatchProgress(
        total=len(states) - unusable - skipped,
        done=c.get(DONE, 0),
        failed=c.get(FAILED, 0) + c.get(UNKNOWN, 0) + c.get(GAVE_UP, 0),
        running=c.get(ACTIVE, 0) - preparing,
        pending=c.get(PENDING, 0) + preparing,
        preparing=preparing,
        cancelled=c.get(CANCELLED, 0),
        unusable=unusable,
        skipped=skipped,
        per_minute=per_minute,
        eta_seconds=eta,
        paused=paused,
        message=message,
    )


# --- the report -----------------------------------------------------------------------------------

REPORT_COLUMNS = (
    "source", "status", "results", "width", "height", "error", "error_code", "cost_coins",
    "cost_money", "task_id", "remote_task_id", "attempts",
)  # fmt: skip


def report_rows(store: Store, batch_id: str) -> list[dict[str, Any]]:
    items = store.batch_items(batch_id)
    root = Path(store.get_batch(batch_id).settings["out_root"])
    tasks = store.get_many([i.task_id for i in items if i.task_id])
    rows = []
    for i in items:
        rec = tasks.get(i.task_id) if i.task_id else None
        state = item_state_for(rec) if rec is not None and i.state == ACTIVE else i.state
        results = []
        if rec is not None:
            for p in rec.result_paths:
                with contextlib.suppress(ValueError):
                    p = p.relative_to(root)
                results.append(str(p))
        error = i.error or (rec.error_message if rec is not None and state != DONE else None)
        rows.append(
            {
                "source": i.rel_path,
                "status": state,
                "results": ";".join(results),
                "width": i.width or "",
                "height": i.height or "",
                "error": error or "",
                "error_code": (rec.error_code or "") if rec is not None else "",
                "cost_coins": _num(rec.cost_coins) if rec is not None else "",
                "cost_money": _num(rec.cost_money) if rec is not None else "",
                "task_id": rec.id if rec is not None else "",
                "remote_task_id": (rec.remote_id or "") if rec is not None else "",
                "attempts": i.attempts,
            }
        )
    return rows


def _num(v: float | None) -> str:
    if v is None:
        return ""
    return str(int(v)) if float(v).is_integer() else f"{v:.2f}"


def write_report(store: Store, batch_id: str) -> Path:
    """`batch-report.csv` in the output folder, replaced atomically (a spreadsheet that has it
    open never sees half a file)."""
    root = Path(store.get_batch(batch_id).settings["out_root"])
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=REPORT_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(report_rows(store, batch_id))
    root.mkdir(parents=True, exist_ok=True)
    dest = root / REPORT_NAME
    tmp = root / f".{REPORT_NAME}.part"
    # utf-8-sig: Excel opens UTF-8 only with the BOM; others ignore it.
    with open(tmp, "w", encoding="utf-8-sig", newline="") as f:
        f.write(buf.getvalue())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, dest)
    return dest


# --- running --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchUpdate:
    kind: str  # "item", "progress", "paused", "resumed", "finished", "message"
    item_id: int | None = None
    message: str = ""


BatchListener = Callable[[BatchUpdate], None]


class BatchRunner:
    """Drives one batch on a JobRunner. Call `run()` to (re)start it; it returns when nothing is
    in flight and nothing more may start (all done, or paused)."""

    def __init__(
        self,
        store: Store,
        runner: JobRunner,
        batch_id: str,
        *,
        prefetch: int = PREFETCH,
        clock: Callable[[], float] = time.monotonic,
        strip_gps: bool = True,
    ) -> None:
        self.store = store
        self.runner = runner
        self.batch_id = batch_id
        self.settings = BatchSettings.from_json(store.get_batch(batch_id).settings)
        self.prefetch = max(0, prefetch)
        self.strip_gps = strip_gps
        self._clock = clock
        self._listeners: list[BatchListener] = []
        self._gate = asyncio.Event()  # open: tasks may be sent
        self._gate.set()
        self._wake = asyncio.Event()
        self._running = False
        self._paused = False
        self.message = ""
        self._by_task: dict[int, int] = {}  # task id -> item id, for tasks in flight
        self.details: dict[int, str] = {}  # item id -> what its task is doing now
        self.task_status: dict[int, str] = {}  # item id -> its task's last state
        self._started_at: float | None = None
        self._completions: list[float] = []
        self._report_due = 0.0
        self._report_dirty = True

    # -- listeners --------------------------------------------------------------------------
    def subscribe(self, listener: BatchListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, update: BatchUpdate) -> None:
        for listener in list(self._listeners):
            try:
                listener(update)
            except Exception:
                log.exception("batch listener failed")

    # -- state ------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._running

    @property
    def paused(self) -> bool:
        return self._paused

    def items(self) -> list[BatchItemRecord]:
        return self.store.batch_items(self.batch_id)

    def progress(self) -> BatchProgress:
        items = self.items()
        states = [i.state for i in items]
        remaining = sum(1 for s in states if s in (PENDING, ACTIVE))
        # Handed to the runner but not sent yet (the prefetch): still "pending" for a person,
        # or "3 running" would show with a limit of 2.
        preparing = sum(
            1
            for i in items
            if i.state == ACTIVE and self.task_status.get(i.id, S.PENDING) in _NOT_SENT
        )
        per_minute = eta = None
        if len(self._completions) >= MIN_COMPLETIONS_FOR_ETA and self._started_at is not None:
            elapsed = max(1e-6, self._clock() - self._started_at)
            rate = len(self._completions) / elapsed
            per_minute = rate * 60
            eta = remaining / rate if rate > 0 else None
        return _progress_from_states(states, per_minute, eta, self._paused, self.message, preparing)

    # -- control ----------------------------------------------------------------------------
    def pause(self, message: str = "") -> None:
        """No new submits; tasks already sent carry on."""
        self._paused = True
        self._gate.clear()
        self.message = message or "Paused: running tasks finish, no new ones are sent."
        self.store.set_batch(self.batch_id, state=S.BATCH_PAUSED, message=self.message)
        self._emit(BatchUpdate("paused", message=self.message))
        self._wake.set()

    def resume(self) -> None:
        """Allow submits again (call `run()` too if it has returned)."""
        self._paused = False
        self.message = ""
        self._gate.set()
        self.store.set_batch(
            self.batch_id, state=S.BATCH_RUNNING if self._running else S.BATCH_PAUSED, message=""
        )
        self._emit(BatchUpdate("resumed"))
        self._wake.set()

    async def cancel_item(self, item_id: int) -> str:
        item = self.store.batch_item(item_id)
        if item.state == PENDING:
            self.store.update_batch_item(
                item_id, state=CANCELLED, error="Cancelled before it started."
            )
            self._changed(item_id)
            return "Cancelled; it was never sent."
        if item.state == ACTIVE and item.task_id is not None:
            msg = await self.runner.cancel(item.task_id)
            self._wake.set()
            return msg
        return "This photo is not waiting or running."

    async def cancel_pending(self) -> int:
        """Cancel every photo not yet sent (including those prepared and waiting); returns how
        many. Tasks already on RunningHub carry on."""
        count = 0
        for item in self.items():
            if item.state == PENDING:
                self.store.update_batch_item(
                    item.id, state=CANCELLED, error="Cancelled before it started."
                )
                count += 1
            elif item.state == ACTIVE and item.task_id is not None:
                rec = self.store.get(item.task_id)
                if not rec.remote_id and rec.submit_state != S.SUBMIT_SENDING:
                    await self.runner.cancel(item.task_id)
                    count += 1
        self._report_dirty = True
        self._emit(BatchUpdate("progress"))
        self._wake.set()
        return count

    def retry_item(self, item_id: int) -> bool:
        """Queue a finished photo again (a new task from the local copies)."""
        item = self.store.batch_item(item_id)
        if item.state not in RETRYABLE_STATES:
            return False
        self.store.update_batch_item(item_id, state=PENDING, error=None, task_id=None)
        self._changed(item_id)
        self._wake.set()
        return True

    def retry_failed(self) -> int:
        """Queue every failed photo again. Unknown outcomes are left alone: they may have run."""
        n = 0
        for item in self.items():
            if item.state == FAILED:
                self.store.update_batch_item(item.id, state=PENDING, error=None, task_id=None)
                n += 1
        if n:
            self._report_dirty = True
            self._emit(BatchUpdate("progress"))
            self._wake.set()
        return n

    def move(self, item_id: int, delta: int) -> bool:
        """Move a pending photo up (delta < 0) or down among the pending ones."""
        pending = [i for i in self.items() if i.state == PENDING]
        ids = [i.id for i in pending]
        if item_id not in ids:
            return False
        j = ids.index(item_id) + (1 if delta > 0 else -1)
        if not 0 <= j < len(ids):
            return False
        self.store.swap_batch_items(item_id, ids[j])
        self._emit(BatchUpdate("item", item_id))
        self._emit(BatchUpdate("item", ids[j]))
        return True

    # -- the loop ---------------------------------------------------------------------------
    async def run(self) -> BatchProgress:
        if self._running:
            raise RuntimeError("this batch is already running")
        self._running = True
        self._paused = False
        self._gate.set()
        self.message = ""
        self.store.set_batch(self.batch_id, state=S.BATCH_RUNNING, message="")
        self._started_at = self._clock()
        self._completions.clear()
        unsubscribe = self.runner.subscribe(self._on_task_event)
        restore: int | None = None
        finished = False
        try:
            limit = await self.runner.concurrency_limit()
            if self.settings.concurrency and self.settings.concurrency < limit:
                restore = limit
                await self.runner.set_concurrency(self.settings.concurrency)
            await self._catch_up()
            self._emit(BatchUpdate("progress"))
            while True:
                self._wake.clear()
                await self._settle()
                if not self._paused:
                    await self._fill()
                items = self.items()
                active = [i for i in items if i.state == ACTIVE]
                if not active and not any(i.state == PENDING for i in items):
                    break
                # Paused: wait for what was sent; photos prepared but held stay with the runner
                # (resumable like any unsent task) and go out when the batch continues.
                sent = [i for i in active if self.task_status.get(i.id) not in _NOT_SENT]
                if self._paused and not sent:
                    break
                await self._maybe_report()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), WATCHDOG_INTERVAL)
                await self._watchdog()
            finished = not any(i.state in (PENDING, ACTIVE) for i in self.items())
        finally:
            unsubscribe()
            self._running = False
            if restore is not None:
                with contextlib.suppress(Exception):
                    await self.runner.set_concurrency(restore)
            if finished:
                self.store.set_batch(self.batch_id, state=S.BATCH_FINISHED, message="")
            elif not self._paused:
                # Stopped from outside (window closed, Ctrl-C): continue when the user says so.
                self.message = "Stopped before the end; continue when ready."
                self.store.set_batch(self.batch_id, state=S.BATCH_PAUSED, message=self.message)
            with contextlib.suppress(Exception):
                await asyncio.get_running_loop().run_in_executor(
                    None, write_report, self.store, self.batch_id
                )
        progress = self.progress()
        self._emit(BatchUpdate("finished" if finished else "paused", message=self.message))
        return progress

    async def _catch_up(self) -> None:
        """After a restart: items whose tasks ended meanwhile are settled, unfinished tasks of
        this batch are taken up again (never resent), metadata missed by a crash is written."""
        resume: list[int] = []
        for item in self.items():
            if item.task_id is None:
                continue
            if item.state == ACTIVE:
                self._by_task[item.task_id] = item.id
                self.task_status[item.id] = self.store.get(item.task_id).status
                resume.append(item.task_id)
            elif item.state == DONE and not item.meta_done:
                await self._finish_done(item, self.store.get(item.task_id))
        if resume:
            await self.runner.resume(resume, gate=self._gate)

    async def _fill(self) -> None:
        limit = await self.runner.concurrency_limit() + self.prefetch
        items = self.items()
        active = sum(1 for i in items if i.state == ACTIVE)
        for item in items:
            if active >= limit or self._paused:
                break
            if item.state != PENDING:
                continue
            await self._start(item)
            active += 1

    async def _start(self, item: BatchItemRecord) -> None:
        inputs = self._inputs_for(item)
        spec = TaskSpec(
            endpoint=self.settings.endpoint,
            prompt=self.settings.prompt,
            width=item.width or 0,
            height=item.height or 0,
            inputs=inputs,
        )
        target = ResultTarget(
            Path(item.out_dir or self.settings.out_root),
            item.out_name or DEFAULT_TEMPLATE,
            overwrite=self.settings.conflict == OVERWRITE,
        )
        task_id = await self.runner.start_task(
            spec, self.batch_id, output=target, batch_item=item.id, gate=self._gate
        )
        self._by_task[task_id] = item.id
        self.details[item.id] = "Waiting to start"
        self.task_status[item.id] = S.PENDING
        self._changed(item.id)

    def _inputs_for(self, item: BatchItemRecord) -> list[Path]:
        """A retry starts from the local copies of the last try when they still exist (the
        original may have moved); the first try from the photo and the references."""
        default = [Path(item.source_path), *self.settings.references]
        previous = self.store.batch_item_tasks(item.id)
        if not previous:
            return default
        rec = self.store.get(previous[-1])
        copies = [Path(i.local_path) for i in rec.inputs if i.local_path]
        if len(copies) == len(default) and all(p.exists() for p in copies):
            return copies
        return default

    def _on_task_event(self, ev: TaskEvent) -> None:
        item_id = self._by_task.get(ev.task_id)
        if item_id is None:
            return
        text = ev.message or ev.status
        if ev.upload_fraction is not None:
            text = f"{text} ({ev.upload_fraction:.0%})"
        if ev.elapsed is not None:
            text = f"{text} · {ev.elapsed:.0f} s"
        self.details[item_id] = text
        self.task_status[item_id] = ev.status
        self._emit(BatchUpdate("item", item_id))
        if ev.final:
            self._wake.set()

    async def _settle(self) -> None:
        """Bring items whose tasks ended up to date."""
        for item in self.items():
            if item.state != ACTIVE or item.task_id is None:
                continue
            rec = self.store.get(item.task_id)
            state = item_state_for(rec)
            if state == ACTIVE:
                continue
            self._by_task.pop(rec.id, None)
            if state == DONE:
                await self._finish_done(item, rec)
            elif (
                state == FAILED
                and rec.error_code in BALANCE_CODES
                and (rec.submit_state != S.SUBMIT_ACCEPTED)
            ):
                # Refused for the balance, so nothing was charged: the photo goes back in line
                # and nothing more is sent until the user tops up.
                self.store.update_batch_item(item.id, state=PENDING, task_id=None, error=None)
                if not self._paused:
                    self.pause(
                        "The RunningHub balance ran out: no more photos are sent. Running tasks "
                        "finish. Top up your wallet, then continue the batch."
                    )
            else:
                self.store.update_batch_item(
                    item.id, state=state, error=rec.error_message if state != CANCELLED else None
                )
                if state != CANCELLED:
                    self._completions.append(self._clock())
            self.details[item.id] = _final_detail(state, rec)
            self._changed(item.id)

    async def _finish_done(self, item: BatchItemRecord, rec: TaskRecord) -> None:
        if not item.meta_done:
            loop = asyncio.get_running_loop()
            source = Path(item.source_path)
            if not source.exists() and rec.inputs and rec.inputs[0].local_path:
                source = Path(rec.inputs[0].local_path)  # moved since: its copy has the profile
            for path in rec.result_paths:
                await loop.run_in_executor(
                    None,
                    lambda p=path: embed_metadata(
                        p,
                        source=source,
                        prompt=rec.prompt,
                        model=rec.spec.model.family,
                        task_id=str(rec.id),
                        remote_id=rec.remote_id,
                    ),
                )
        self.store.update_batch_item(item.id, state=DONE, meta_done=1, error=None)
        if item.state == ACTIVE:
            self._completions.append(self._clock())
        self.details[item.id] = _final_detail(DONE, rec)
        self._changed(item.id)

    async def _watchdog(self) -> None:
        """Every running item must be driven by the runner; one that is not (its driver was
        stopped from outside) is taken up again or settled."""
        driven = set(self.runner.active_ids())
        lost = [
            i.task_id
            for i in self.items()
            if i.state == ACTIVE and i.task_id is not None and i.task_id not in driven
        ]
        if not lost:
            return
        still_active = [t for t in lost if item_state_for(self.store.get(t)) == ACTIVE]
        if still_active:
            await self.runner.resume(still_active, gate=self._gate)
        self._wake.set()

    def _changed(self, item_id: int) -> None:
        self._report_dirty = True
        self._emit(BatchUpdate("item", item_id))
        self._emit(BatchUpdate("progress"))

    async def _maybe_report(self) -> None:
        now = self._clock()
        if not self._report_dirty or now < self._report_due:
            return
        self._report_dirty = False
        self._report_due = now + REPORT_INTERVAL
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, write_report, self.store, self.batch_id
            )
        except OSError as exc:  # a full disk or a locked file must not stop the batch
            log.warning("could not write the batch report: %s", exc)


def _final_detail(state: str, rec: TaskRecord) -> str:
    if state == DONE:
        names = ", ".join(p.name for p in rec.result_paths)
        return f"Done → {names}" if names else "Done"
    if state == CANCELLED:
        return "Cancelled"
    return rec.error_message or state
