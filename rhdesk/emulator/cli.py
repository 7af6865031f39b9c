"""`rhdesk emulator`: serve the RunningHub emulator in the foreground until Ctrl+C."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import Sequence

from rhdesk.emulator.config import EmulatorConfig
from rhdesk.emulator.emulator import Emulator


def serve_forever(cfg: EmulatorConfig) -> None:
    """Start an emulator, print where it listens and with which key, and block until Ctrl+C."""
    emu = Emulator(cfg)
    base_url = emu.start()
    print(f"RunningHub emulator at {base_url}", flush=True)
    for key in sorted(cfg.api_keys):
        print(f"API key: {key}", flush=True)
    print("Press Ctrl+C to stop.", flush=True)
    forever = threading.Event()
    try:
        # A timed wait keeps the main thread responsive to Ctrl+C on every platform.
        while not forever.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()


run_forever = serve_forever


def build_parser(prog: str = "rhdesk emulator") -> argparse.ArgumentParser:
    defaults = EmulatorConfig()
    p = argparse.ArgumentParser(prog=prog, description="A local RunningHub stand-in.")
    p.add_argument("--host", default=defaults.host)
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port (default 8765)")
    p.add_argument(
        "--key",
        action="append",
        dest="keys",
        help="accepted API key (repeatable; default demo-key)",
    )
    p.add_argument("--queue-seconds", type=float, default=1.0)
    p.add_argument("--run-seconds", type=float, default=4.0)
    p.add_argument("--concurrency", type=int, default=defaults.concurrency_limit)
    p.add_argument("--coins", type=int, default=defaults.coins)
    p.add_argument("--output-format", choices=("png", "jpg"), default=defaults.output_format)
    p.add_argument(
        "--cancel-model-tasks",
        action="store_true",
        help="let /task/openapi/cancel cancel model tasks (default: refuse, as upstream may)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return p


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    return EmulatorConfig(
        api_keys=frozenset(args.keys or EmulatorConfig().api_keys),
        queue_seconds=args.queue_seconds,
        run_seconds=args.run_seconds,
        concurrency_limit=args.concurrency,
        coins=args.coins,
        output_format=args.output_format,
        cancel_model_tasks=args.cancel_model_tasks,
        host=args.host,
        port=args.port,
    )


def main(argv: Sequence[str] | None = None, prog: str = "rhdesk emulator") -> int:
    args = build_parser(prog).parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    serve_forever(config_from_args(args))
    return 0
