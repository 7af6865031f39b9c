"""The `rhdesk` command: the window by default, plus run / history / resume / emulator."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

from rhdesk import __version__

EXIT_OK, EXIT_TASK_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every usage error here
        self.exit(EXIT_USAGE, f"rhdesk: {message} (see rhdesk --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from rhdesk.context import add_global_options

    p = _Parser(prog="rhdesk", description="Edit images with RunningHub's Seedream models.")
    p.add_argument("--version", action="version", version=f"rhdesk {__version__}")
    p.add_argument("--self-test", action="store_true", help="check this installation and exit")
    add_global_options(p)
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    def subparser(name: str, **kw) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, **kw)
        add_global_options(sp, suppress=True)
        return sp

    run = subparser("run", help="edit images (or make one from text) and save the results")
    run.add_argument("images", nargs="*", type=Path, help="input images (none: text-to-image)")
    run.add_argument("--prompt", "-p", required=True, help="what to change or make")
    run.add_argument(
        "--model", "-m", default=None, help="seedream-v4, seedream-v4.5 (default), seedream-v5-lite"
    )
    run.add_argument("--width", type=int)
    run.add_argument("--height", type=int)
    run.add_argument("--size", help="a preset like 16:9@2K, or 'match' (the first image's aspect)")
    run.add_argument(
        "--max-images", type=int, default=1, help="more than 1 turns on sequential generation"
    )
    run.add_argument("--out", type=Path, help="also copy the results into this folder")
    run.add_argument("--json", action="store_true", help="print the task as JSON on stdout")

    hist = subparser("history", help="list earlier tasks")
    hist.add_argument("--json", action="store_true")
    hist.add_argument("--limit", type=int, default=50)
    hist.add_argument("--search", help="only tasks whose prompt contains this text")
    hist.add_argument("--status", help="only tasks in this state (succeeded, failed, unknown, ...)")

    subparser("resume", help="finish tasks left unfinished by a crash or restart")

    from rhdesk.cli_batch import add_batch_parser

    add_batch_parser(sub, subparser)

    emu = subparser("emulator", help="serve the RunningHub emulator on this computer")
    emu.add_argument("--port", type=int, default=8187)
    emu.add_argument("--key", default="emulator-key")
    emu.add_argument("--queue-seconds", type=float, default=1.0)
    emu.add_argument("--run-seconds", type=float, default=3.0)
    return p


COMMANDS = ("run", "history", "resume", "emulator", "batch")
_VALUE_OPTIONS = ("--site", "--base-url", "--data-dir")


def build_gui_parser() -> argparse.ArgumentParser:
    """`rhdesk [options] [IMAGE...]`: the window, with images placed in the slots."""
    from rhdesk.context import add_global_options

    p = _Parser(prog="rhdesk", description="Edit images with RunningHub's Seedream models.")
    p.add_argument("--version", action="version", version=f"rhdesk {__version__}")
    add_global_options(p)
    p.add_argument("files", nargs="*", type=Path, help="images to put in the slots")
    p.add_argument(
        "--self-test",
        action="store_true",
        help="start offscreen, run one demo task end to end, exit 0 if it worked",
    )
    p.add_argument("--startup-probe", action="store_true", help=argparse.SUPPRESS)  # bench/
    return p


def wants_window(argv: list[str]) -> bool:
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help", "--version"):
            return False
        if a in _VALUE_OPTIONS:
            i += 2
            continue
        if a.startswith("-"):
            i += 1
            continue
        return a not in COMMANDS
    return True


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if wants_window(argv):
        if build_gui_parser().parse_args(argv).self_test:  # usage errors before any window
            from rhdesk.selftest import main as self_test

            return self_test()
        from rhdesk.app import main as gui_main

        return gui_main(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    try:
        if args.command == "emulator":
            return _cmd_emulator(args)
        return asyncio.run(_dispatch(args))
    except KeyboardInterrupt:
        print(
            "rhdesk: interrupted; unfinished tasks continue with `rhdesk resume`.", file=sys.stderr
        )
        return 130
    except _UsageError as exc:
        print(f"rhdesk: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        from rhdesk.context import SetupError
        from rhdesk.logs import redact

        code = EXIT_USAGE if isinstance(exc, SetupError) else EXIT_TASK_FAILED
        print(f"rhdesk: {redact(str(exc)) or type(exc).__name__}", file=sys.stderr)
        return code


class _UsageError(Exception):
    pass


async def _dispatch(args: argparse.Namespace) -> int:
    from rhdesk.context import build_context

    need_key = args.command in ("run", "resume", "batch")
    ctx = build_context(args, require_key=need_key)
    try:
        if args.command == "history":
            return _cmd_history(ctx, args)
        if args.command == "run":
            return await _cmd_run(ctx, args)
        if args.command == "resume":
            return await _cmd_resume(ctx)
        if args.command == "batch":
            from rhdesk.cli_batch import cmd_batch

            return await cmd_batch(ctx, args)
        raise _UsageError(f"unknown command {args.command}")
    finally:
        ctx.close()


def _build_spec(args: argparse.Namespace):
    from rhdesk.core.catalogue import DEFAULT_FAMILY, resolve_model_name
    from rhdesk.core.prepare import ImageProblem, inspect_image, prepare_image
    from rhdesk.core.sizes import default_size, match_aspect, preset_by_key, presets_for
    from rhdesk.core.task import TaskSpec

    images = [Path(p) for p in args.images]
    infos = []
    for p in images:
        try:
            infos.append(inspect_image(p))
            prepare_image(p)  # decodes fully: damaged files are refused before anything is sent
        except ImageProblem as exc:
            raise _UsageError(str(exc)) from None
    try:
        model = resolve_model_name(args.model or DEFAULT_FAMILY, with_images=bool(images))
    except KeyError:
        raise _UsageError(
            f"unknown model {args.model!r}: use seedream-v4, seedream-v4.5 or seedream-v5-lite"
        ) from None
    if (args.width is None) != (args.height is None):
        raise _UsageError("give both --width and --height, or --size")
    if args.width is not None and args.size:
        raise _UsageError("give either --width/--height or --size, not both")
    if args.width is not None:
        width, height = args.width, args.height
    elif args.size and args.size.lower() == "match" or (not args.size and infos):
        if not infos:
            raise _UsageError("--size match needs an input image")
        width, height = match_aspect(model, infos[0].width, infos[0].height)
    elif args.size:
        preset = preset_by_key(model, args.size)
        if preset is None:
            keys = ", ".join(p.key for p in presets_for(model))
            raise _UsageError(
                f"unknown size {args.size!r} for {model.label}; choose one of: {keys}, match"
            )
        width, height = preset.width, preset.height
    else:
        width, height = default_size(model)
    spec = TaskSpec(
        endpoint=model.endpoint,
        prompt=args.prompt,
        width=width,
        height=height,
        inputs=[p.resolve() for p in images],
        max_images=max(1, args.max_images),
        sequential=args.max_images > 1,
    )
    problems = spec.problems()
    if problems:
        raise _UsageError(" ".join(str(p) for p in problems))
    return spec


class _Progress:
    """Progress on stderr: one rewritten line on a terminal, one line per change otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = ""

    def __call__(self, ev) -> None:
        text = ev.message or ev.status
        if ev.upload_fraction is not None:
            text = f"{text} ({ev.upload_fraction:.0%})"
        if ev.elapsed is not None:
            text = f"{text} · {ev.elapsed:.0f} s"
        if ev.error:
            text = f"{ev.status}: {ev.error}"
        line = f"[task {ev.task_id}] {text}"
        if self.tty:
            sys.stderr.write("\r\033[K" + line + ("\n" if ev.final else ""))
            sys.stderr.flush()
        elif line.split(" · ")[0] != self.last.split(" · ")[0] and not (
            ev.upload_fraction not in (None, 1.0)
        ):
            print(line, file=sys.stderr, flush=True)
        self.last = line


def _task_json(rec) -> dict:
    return {
        "id": rec.id,
        "status": rec.status,
        "remote_id": rec.remote_id,
        "endpoint": rec.endpoint,
        "prompt": rec.prompt,
        "width": rec.width,
        "height": rec.height,
        "inputs": [i.source_path for i in rec.inputs],
        "results": [str(p) for p in rec.result_paths],
        "error": rec.error_message,
        "error_code": rec.error_code,
        "cost_money": rec.cost_money,
        "cost_coins": rec.cost_coins,
        "created_at": rec.created_at,
        "finished_at": rec.finished_at,
        "base_url": rec.base_url,
    }


async def _cmd_run(ctx, args) -> int:
    from rhdesk.context import make_client, make_runner
    from rhdesk.store.db import SUCCEEDED, Store

    spec = _build_spec(args)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    store = Store(ctx.paths.db)
    async with make_client(ctx) as client:
        runner = make_runner(ctx, client, store)
        runner.subscribe(_Progress())
        try:
            task_id = await runner.start_task(spec)
            rec = await runner.wait(task_id)
        finally:
            await runner.aclose()
    results = rec.result_paths
    if args.out:
        import shutil

        copied = []
        for p in results:
            dest = args.out / p.name
            n = 2
            while dest.exists():
                dest = args.out / f"{p.stem} ({n}){p.suffix}"
                n += 1
            shutil.copy2(p, dest)
            copied.append(dest)
        results = copied
    if args.json:
        data = _task_json(rec)
        data["results"] = [str(p) for p in results]
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        for p in results:
            print(p)
    if rec.status != SUCCEEDED:
        print(
            f"rhdesk: task {rec.id} {rec.status}: {rec.error_message or ''}".rstrip(": "),
            file=sys.stderr,
        )
        return EXIT_TASK_FAILED
    return EXIT_OK


def _cmd_history(ctx, args) -> int:
    from rhdesk.store.db import Store

    store = Store(ctx.paths.db)
    statuses = [args.status] if args.status else None
    recs = store.list(limit=args.limit, statuses=statuses, search=args.search)
    if args.json:
        print(json.dumps([_task_json(r) for r in recs], ensure_ascii=False, indent=2))
        return EXIT_OK
    if not recs:
        print("No tasks yet.", file=sys.stderr)
    for r in recs:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created_at))
        prompt = r.prompt if len(r.prompt) <= 48 else r.prompt[:47] + "…"
        print(
            f"{r.id:>5}  {when}  {r.status:<11} {r.spec.model.family:<17} {r.width}×{r.height}  {prompt}"
        )
        for p in r.result_paths:
            print(f"       → {p}")
        if r.error_message and r.status != "succeeded":
            print(f"       ! {r.error_message}")
    return EXIT_OK


async def _cmd_resume(ctx) -> int:
    from rhdesk.context import make_client, make_runner
    from rhdesk.store.db import SUCCEEDED, UNKNOWN, Store

    store = Store(ctx.paths.db)
    async with make_client(ctx) as client:
        runner = make_runner(ctx, client, store)
        runner.subscribe(_Progress())
        try:
            ids = await runner.resume()
            await runner.wait_all()
        finally:
            await runner.aclose()
    unknown = store.list(statuses=[UNKNOWN])
    if not ids and not unknown:
        print("Nothing to resume.", file=sys.stderr)
        return EXIT_OK
    code = EXIT_OK
    for task_id in ids:
        rec = store.get(task_id)
        for p in rec.result_paths:
            print(p)
        if rec.status != SUCCEEDED:
            code = EXIT_TASK_FAILED
    from rhdesk.api.sites import CALL_RECORD_HINT, call_record_url

    for rec in unknown:
        print(
            f"rhdesk: task {rec.id} outcome unknown: {rec.error_message} "
            f"Call record: {call_record_url(rec.base_url)} ({CALL_RECORD_HINT})",
            file=sys.stderr,
        )
        code = EXIT_TASK_FAILED
    return code


def _cmd_emulator(args) -> int:
    from rhdesk.emulator import EmulatorConfig, serve_forever

    cfg = EmulatorConfig(
        api_keys=frozenset({args.key}),
        port=args.port,
        queue_seconds=args.queue_seconds,
        run_seconds=args.run_seconds,
    )
    serve_forever(cfg)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
