"""Composition of the Qt-free parts: paths, settings, key, client, store, runner, demo emulator.

The command line and the window both build one of these; the window adds its Qt models on top.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from rhdesk import logs, secrets
from rhdesk.paths import AppPaths, app_paths
from rhdesk.settings import Settings

DEMO_KEY = "demo-key-0000"


class SetupError(Exception):
    """Bad options or missing key: a one-line message for the user (exit code 2)."""


def add_global_options(p: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    d = argparse.SUPPRESS if suppress else None
    p.add_argument(
        "--demo",
        action="store_true",
        default=d if suppress else False,
        help="use the built-in RunningHub emulator (no key, no network, no cost)",
    )
    p.add_argument(
        "--demo-if-no-key",
        action="store_true",
        default=d if suppress else False,
        help="demo mode unless an API key is set (the README's first command)",
    )
    p.add_argument("--site", choices=["cn", "ai"], default=d, help="runninghub.cn or runninghub.ai")
    p.add_argument(
        "--base-url", default=d, help="another API address (http:// only for this computer)"
    )
    p.add_argument(
        "--data-dir", type=Path, default=d, help="where rhdesk keeps history and results"
    )
    p.add_argument("-v", "--verbose", action="store_true", default=d if suppress else False)


@dataclass
class Context:
    paths: AppPaths
    settings: Settings
    site: str
    base_url: str
    api_key: str
    demo: bool
    emulator: object | None = None  # rhdesk.emulator.Emulator when demo
    key_source: str = ""
    _closers: list = field(default_factory=list)

    def close(self) -> None:
        if self.emulator is not None:
            self.emulator.stop()  # type: ignore[attr-defined]
            self.emulator = None


def build_context(args: argparse.Namespace, *, require_key: bool = True) -> Context:
    from rhdesk.api.sites import resolve_base_url

    data_dir = getattr(args, "data_dir", None)
    paths = app_paths(data_dir)
    settings = Settings.load(paths.settings)
    from rhdesk.i18n.core import resolve, set_language

    set_language(resolve(settings.language))  # messages from the core layers, CLI included
    if settings.library:
        paths = app_paths(data_dir, Path(settings.library))
    paths.ensure()
    logs.setup_logging(paths.logs, bool(getattr(args, "verbose", False)))

    site = getattr(args, "site", None) or settings.site or "cn"
    demo = bool(getattr(args, "demo", False))
    if not demo and getattr(args, "demo_if_no_key", False):
        demo = not (getattr(args, "base_url", None) or secrets.get_api_key(site).key)
    emulator = None
    key_source = ""
    if demo:
        from rhdesk.emulator import Emulator, EmulatorConfig

        emulator = Emulator(
            EmulatorConfig(api_keys=frozenset({DEMO_KEY}), queue_seconds=1.0, run_seconds=3.0)
        )
        base_url = emulator.start()
        api_key = DEMO_KEY
        key_source = "demo"
    else:
        raw_url = getattr(args, "base_url", None) or settings.base_url or site
        try:
            base_url = resolve_base_url(raw_url)
        except Exception as exc:
            raise SetupError(str(exc)) from None
        lookup = secrets.get_api_key(site)
        api_key = lookup.key or ""
        key_source = lookup.source
        if require_key and not api_key:
            hint = f" {lookup.problem}" if lookup.problem else ""
            raise SetupError(
                "No RunningHub API key: set RHDESK_API_KEY, save a key in the app's settings, "
                f"or try it out with --demo.{hint}"
            )
    logs.add_secret(api_key)
    return Context(
        paths=paths,
        settings=settings,
        site=site,
        base_url=base_url,
        api_key=api_key,
        demo=demo,
        emulator=emulator,
        key_source=key_source,
    )


def make_client(ctx: Context):
    from rhdesk.api.client import RunningHubClient

    return RunningHubClient(ctx.api_key, ctx.base_url)


def make_runner(ctx: Context, client, store):
    from rhdesk.jobs.pipeline import JobRunner, PollPolicy, RunnerConfig

    poll = PollPolicy(max_interval=max(1.0, ctx.settings.poll_seconds))
    if ctx.demo:
        poll = PollPolicy(first=0.5, max_interval=1.0)
    return JobRunner(
        store,
        client,
        RunnerConfig(
            library=ctx.paths.library,
            inputs_dir=ctx.paths.inputs,
            name_template=ctx.settings.name_template,
            concurrency=ctx.settings.concurrency or None,
            poll=poll,
            strip_gps=ctx.settings.strip_gps,
        ),
    )
