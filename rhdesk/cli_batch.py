"""`rhdesk batch`: one prompt over a folder of photos, from the command line.

Same contract as `rhdesk run`: bad usage exits 2 with one line and nothing sent; progress on
stderr (one line updated in place on a terminal, plain lines otherwise); result paths on stdout;
exit 0 when every usable photo got its result, 1 when any failed or is unknown.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from rhdesk.context import Context, SetupError, make_client, make_runner
from rhdesk.jobs import batch as B
from rhdesk.store import db as S
from rhdesk.store.db import Store, StoreError

EXIT_OK, EXIT_TASK_FAILED, EXIT_USAGE = 0, 1, 2
BAR_WIDTH = 24
REDRAW_INTERVAL = 0.1  # seconds between redraws of the progress line


def add_batch_parser(sub: Any, subparser: Any) -> None:
    p = subparser("batch", help="one prompt over a folder of photos, each photo its own task")
    p.add_argument("sources", nargs="*", type=Path, help="a folder of photos (or photos)")
    p.add_argument("--prompt", "-p", help="what to change in every photo")
    p.add_argument("--recursive", "-r", action="store_true", help="include subfolders")
    p.add_argument("--out", type=Path, help="output folder (mirrors the subfolders)")
    p.add_argument("--concurrency", type=int, help="at most this many tasks at once")
    p.add_argument("--model", "-m", help="seedream-v4, seedream-v4.5 (default), seedream-v5-lite")
    p.add_argument("--width", type=int)
    p.add_argument("--height", type=int)
    p.add_argument(
        "--size",
        help="a preset like 16:9@2K, or 'match' / 'match@1K' (each photo's aspect; the default)",
    )
    p.add_argument(
        "--reference", action="append", type=Path, default=[], metavar="IMG",
        help="a reference image given to every task after the photo (repeatable, at most 9)",
    )  # fmt: skip
    p.add_argument("--template", default=B.DEFAULT_TEMPLATE, help="result file names")
    p.add_argument("--overwrite", action="store_true", help="replace results already there")
    p.add_argument("--skip-existing", action="store_true", help="skip photos already done")
    p.add_argument("--yes", "-y", action="store_true", help="start without asking")
    p.add_argument("--resume", metavar="BATCH_ID", help="continue a batch that was stopped")
    p.add_argument(
        "--retry-failed", action="store_true", help="with --resume: run failed photos again"
    )
    p.add_argument("--json", action="store_true", help="print the outcome as JSON on stdout")


def _usage(message: str) -> SetupError:
    return SetupError(message)


def _settings_from_args(ctx: Context, args: argparse.Namespace) -> B.BatchSettings:
    from rhdesk.core.catalogue import DEFAULT_FAMILY, resolve_model_name
    from rhdesk.core.sizes import TIERS, preset_by_key, presets_for

    if not args.sources:
        raise _usage("give a folder of photos (or --resume BATCH_ID)")
    if not args.prompt:
        raise _usage("the following arguments are required: --prompt")
    missing = [str(p) for p in args.sources if not p.exists()]
    if missing:
        raise _usage(f"no such folder or file: {missing[0]}")
    try:
        model = resolve_model_name(args.model or DEFAULT_FAMILY, with_images=True)
    except KeyError:
        raise _usage(
            f"unknown model {args.model!r}: use seedream-v4, seedream-v4.5 or seedream-v5-lite"
        ) from None
    if (args.width is None) != (args.height is None):
        raise _usage("give both --width and --height, or --size")
    if args.width is not None and args.size:
        raise _usage("give either --width/--height or --size, not both")
    if args.overwrite and args.skip_existing:
        raise _usage("give either --overwrite or --skip-existing, not both")
    size: tuple[int, int] | None = None
    tier: str | None = None
    match, _, tier_text = (args.size or "match").strip().partition("@")
    if args.width is not None:
        size = (args.width, args.height)
    elif match.lower() == "match":
        tier = tier_text.upper() or None
        if tier is not None and tier not in TIERS:
            raise _usage(
                f"unknown size {args.size!r}: use match, or match@ one of {', '.join(TIERS)}"
            )
    else:
        preset = preset_by_key(model, args.size)
        if preset is None:
            keys = ", ".join(p.key for p in presets_for(model))
            raise _usage(
                f"unknown size {args.size!r} for {model.label}; choose one of: {keys}, match"
            )
        size = (preset.width, preset.height)
    out = args.out
    if out is None:
        first = args.sources[0].resolve()
        name = first.name if first.is_dir() else first.parent.name
        out = ctx.paths.library / f"Batch {datetime.now():%Y-%m-%d %H%M} {name}".strip()
    out = out.expanduser().resolve()
    for src in args.sources:
        src = src.resolve()
        if src.is_dir() and args.recursive and (out == src or src in out.parents):
            raise _usage(
                f"the output folder {out} is inside {src}: its results would be taken as photos "
                "next time; choose an --out elsewhere"
            )
    conflict = B.OVERWRITE if args.overwrite else B.SKIP if args.skip_existing else B.KEEP_BOTH
    settings = B.BatchSettings(
        prompt=args.prompt,
        endpoint=model.endpoint,
        out_root=out,
        size=size,
        tier=tier,
        references=tuple(p.resolve() for p in args.reference),
        template=args.template,
        conflict=conflict,
        concurrency=args.concurrency,
    )
    try:
        B.validate_settings(settings)
    except B.BatchSetupError as exc:
        raise _usage(str(exc)) from None
    return settings


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _confirm(args: argparse.Namespace, question: str) -> bool:
    if args.yes:
        return True
    if not sys.stdin.isatty():
        raise _usage("not starting without confirmation: pass --yes to start without asking")
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        answer = ""
    return answer.strip().lower() in ("y", "yes")


async def _plan_new(ctx: Context, args: argparse.Namespace, client: Any) -> B.BatchPlan:
    settings = _settings_from_args(ctx, args)
    model = settings.model
    if settings.references:
        missing = [str(p) for p in settings.references if not p.exists()]
        if missing:
            raise _usage(f"no such reference image: {missing[0]}")
        problems = await B.check_references(
            settings.references, model, strip_gps=ctx.settings.strip_gps
        )
        if problems:
            raise _usage(f"reference image: {problems[0]}")
    collected = B.collect_sources(args.sources, recursive=args.recursive)
    if not collected.sources:
        where = ", ".join(str(p) for p in args.sources)
        hint = "" if args.recursive else " (add --recursive for subfolders)"
        raise _usage(f"no photos found in {where}{hint}")
    tty = sys.stderr.isatty()

    def checking(done: int, total: int) -> None:
        if tty:
            sys.stderr.write(f"\r\033[KChecking photos {done}/{total}")
            sys.stderr.flush()

    checked = await B.check_sources(
        collected.sources, model, strip_gps=ctx.settings.strip_gps, progress=checking
    )
    if tty:
        sys.stderr.write("\r\033[K")
    loop = asyncio.get_running_loop()
    plan = await loop.run_in_executor(
        None, lambda: B.plan_batch(settings, checked, ignored=collected.ignored)
    )
    for item in plan.unusable:
        _say(f"  cannot use {item.rel}: {item.error}")
    if plan.conflicts and settings.conflict != B.SKIP:
        how = "replaced" if settings.conflict == B.OVERWRITE else "kept (new names get (2))"
        _say(f"  {len(plan.conflicts)} result(s) already in {settings.out_root}: {how}")
    skipped = [i for i in plan.items if i.state == B.SKIPPED]
    if skipped:
        _say(f"  skipping {len(skipped)} photo(s) whose result already exists")
    if not plan.runnable and plan.unusable and not skipped:
        raise _usage(f"none of the {len(plan.items)} photo(s) can be used")
    return plan


def _print_outcome(store: Store, batch_id: str, args: argparse.Namespace) -> int:
    rows = B.report_rows(store, batch_id)
    root = Path(store.get_batch(batch_id).settings["out_root"])
    report = root / B.REPORT_NAME
    if args.json:
        progress = B.batch_progress(store, batch_id)
        data = {
            "batch_id": batch_id,
            "state": store.get_batch(batch_id).state,
            "out": str(root),
            "report": str(report),
            "counts": {
                "total": progress.total, "done": progress.done, "failed": progress.failed,
                "pending": progress.pending, "running": progress.running,
                "cancelled": progress.cancelled, "unusable": progress.unusable,
                "skipped": progress.skipped,
            },
            "items": [
                {
                    "source": r["source"], "status": r["status"],
                    "results": [str(root / p) for p in r["results"].split(";") if p],
                    "error": r["error"] or None, "task_id": r["task_id"] or None,
                }
                for r in rows
            ],
        }  # fmt: skip
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        for r in rows:
            for p in r["results"].split(";"):
                if p:
                    print(root / p)
    _say(f"Report: {report}")
    bad = [r for r in rows if r["status"] not in (B.DONE, B.UNUSABLE, B.SKIPPED)]
    return EXIT_TASK_FAILED if bad else EXIT_OK


class _BatchProgress:
    """One line updated in place on a terminal; a line per finished photo otherwise."""

    def __init__(self, runner: B.BatchRunner) -> None:
        self.runner = runner
        self.tty = sys.stderr.isatty()
        self.last_draw = 0.0
        self.reported: set[int] = set()

    def __call__(self, update: B.BatchUpdate) -> None:
        if update.kind == "item" and update.item_id is not None:
            self._item(update.item_id)
        elif update.kind == "paused" and update.message:
            self._line(update.message)
        if self.tty:
            now = time.monotonic()
            if now - self.last_draw >= REDRAW_INTERVAL or update.kind in ("finished", "paused"):
                self.last_draw = now
                self._draw()

    def _item(self, item_id: int) -> None:
        if item_id in self.reported:
            return
        try:
            item = self.runner.store.batch_item(item_id)
        except StoreError:
            return
        if item.state == B.DONE:
            if not self.tty:
                names = ", ".join(p.name for p in self._results(item))
                self._line(f"done    {item.rel_path} → {names}")
            self.reported.add(item_id)
        elif item.state in (B.FAILED, B.UNKNOWN, B.GAVE_UP):
            self._line(f"{item.state:<7} {item.rel_path}: {item.error or ''}")
            self.reported.add(item_id)
        elif item.state == B.PENDING:
            self.reported.discard(item_id)  # retried or put back: report its next outcome

    def _results(self, item: S.BatchItemRecord) -> list[Path]:
        if item.task_id is None:
            return []
        return self.runner.store.get(item.task_id).result_paths

    def _line(self, text: str) -> None:
        if self.tty:
            sys.stderr.write("\r\033[K")
        _say(text)
        if not self.tty:
            _say(self.runner.progress().line())

    def _draw(self) -> None:
        p = self.runner.progress()
        finished = p.done + p.failed + p.cancelled
        filled = int(BAR_WIDTH * finished / p.total) if p.total else BAR_WIDTH
        bar = "█" * filled + "░" * (BAR_WIDTH - filled)
        sys.stderr.write(f"\r\033[K{bar} {p.line()}")
        sys.stderr.flush()


async def cmd_batch(ctx: Context, args: argparse.Namespace) -> int:
    if args.concurrency is not None and args.concurrency < 1:
        raise _usage("--concurrency must be at least 1")
    if args.resume and (args.sources or args.prompt):
        raise _usage("--resume continues a batch as it was planned: give no folder or prompt")
    if args.retry_failed and not args.resume:
        raise _usage("--retry-failed goes with --resume BATCH_ID")
    store = Store(ctx.paths.db)
    try:
        async with make_client(ctx) as client:
            runner = make_runner(ctx, client, store)
            try:
                return await _run(ctx, args, client, runner, store)
            finally:
                await runner.aclose()
    finally:
        store.close()


async def _run(
    ctx: Context, args: argparse.Namespace, client: Any, runner: Any, store: Store
) -> int:
    if args.resume:
        try:
            batch_id = store.find_batch(args.resume).id
        except StoreError as exc:
            raise _usage(str(exc)) from None
        settings = B.BatchSettings.from_json(store.get_batch(batch_id).settings)
        progress = B.batch_progress(store, batch_id)
        todo = progress.pending + (progress.failed if args.retry_failed else 0)
        _say(f"Batch {batch_id}: {progress.line()}")
        if args.concurrency:
            _say("  --concurrency applies to this run only")
    else:
        plan = await _plan_new(ctx, args, client)
        settings = plan.settings
        todo = plan.tasks
        batch_id = None
        if not todo:
            _say("Nothing to do: every photo is skipped or unusable.")
            return EXIT_OK
    model = settings.model
    cost = await B.estimate_cost(
        client, model, todo, todo, None if args.resume else B.preview_body(plan)
    )
    _say(f"{cost.summary()}; results in {settings.out_root}")
    if cost.balance_problem:
        _say(f"  (balance not checked: {cost.balance_problem})")
    if todo and (short := cost.shortfall()):
        raise _usage(short)
    if not _confirm(args, "Start the batch?" if not args.resume else "Continue the batch?"):
        _say("Nothing was sent.")
        return EXIT_OK
    if batch_id is None:
        batch_id = B.create_batch(store, plan)
    _say(f"Batch {batch_id} (if stopped, continue with: rhdesk batch --resume {batch_id})")
    br = B.BatchRunner(store, runner, batch_id, strip_gps=ctx.settings.strip_gps)
    if args.resume and args.concurrency:
        br.settings = dataclasses.replace(br.settings, concurrency=args.concurrency)
    if args.retry_failed and (n := br.retry_failed()):
        _say(f"  trying {n} failed photo(s) again")
    printer = _BatchProgress(br)
    br.subscribe(printer)
    try:
        progress = await br.run()
    except asyncio.CancelledError:
        _say(f"\nrhdesk: batch {batch_id} stopped; continue with: rhdesk batch --resume {batch_id}")
        raise
    if printer.tty:
        sys.stderr.write("\r\033[K" + progress.line() + "\n\a")  # the bell: it is finished
        sys.stderr.flush()
    code = _print_outcome(store, batch_id, args)
    if progress.paused or store.get_batch(batch_id).state == S.BATCH_PAUSED:
        _say(
            f"rhdesk: batch {batch_id} paused with {progress.pending} photo(s) not sent: "
            f"{progress.message} Continue with: rhdesk batch --resume {batch_id}"
        )
        return EXIT_TASK_FAILED
    if code != EXIT_OK:
        _say(
            f"rhdesk: {progress.failed} of {progress.total} photo(s) failed; see the report "
            f"(run them again with: rhdesk batch --resume {batch_id} --retry-failed)"
        )
    return code
