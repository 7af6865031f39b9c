"""The account as a person sees it: the balance, task counts, a low-balance warning before a
run, and checking a key against a site (and finding the site it belongs to). Qt-free.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from rhdesk.api.errors import AuthError, RunningHubError
from rhdesk.api.types import AccountStatus, QueueStatus
from rhdesk.i18n.core import _

log = logging.getLogger("rhdesk.account")

# RunningHub coins per yuan [unknown: not documented]. The emulator charges 20 coins for a
# 0.20 CNY image, i.e. 100 per yuan, and RunningHub's wallet is reported to work the same way.
# Only the low-balance *warning* depends on it: the server still refuses a task it cannot pay.
COINS_PER_CNY = 100.0
_CNY = {"", "CNY", "RMB", "¥", "YUAN"}

SITE_NAMES: dict[str, str] = {"cn": "runninghub.cn", "ai": "runninghub.ai"}


def site_name(site: str) -> str:
    return SITE_NAMES.get(site, site)


def balance_text(account: AccountStatus | None) -> str:
    """'Balance: 177,814 coins' / 'Balance: 12.50 USD'; '' when nothing is known."""
    if account is None:
        return ""
    parts = []
    if account.remain_coins is not None:
        parts.append(_("{n} coins", n=f"{account.remain_coins:,}"))
    if account.remain_money is not None:
        parts.append(f"{account.remain_money:,.2f} {account.currency or 'CNY'}")
    if not parts:
        return ""
    return _("Balance: {amount}", amount=" · ".join(parts))


def counts_text(local_running: int, local_queued: int, queue: QueueStatus | None = None) -> str:
    """Running and queued tasks: ours, or the account's (other apps may use the same key), the
    larger of the two."""
    running, queued = local_running, local_queued
    if queue is not None:
        running = max(running, queue.running_count or 0)
        queued = max(queued, queue.queued_count or 0)
    bits = []
    if running:
        bits.append(_("{n} running", n=running))
    if queued:
        bits.append(_("{n} queued", n=queued))
    return " · ".join(bits)


def low_balance_warning(account: AccountStatus | None, cost_cny: float) -> str:
    """A sentence when the balance looks too low for a task estimated at `cost_cny`, else ''.

    Unknown balances never warn: a warning that cries wolf teaches people to click through it.
    """
    if account is None or cost_cny <= 0:
        return ""
    currency = (account.currency or "").strip().upper()
    if account.remain_money is not None and currency in _CNY:
        if account.remain_money < cost_cny:
            return _(
                "This task may cost about ¥{cost}, but the balance is {balance}. It will "
                "probably be refused; top up your RunningHub wallet first.",
                cost=f"{cost_cny:.2f}",
                balance=f"¥{account.remain_money:,.2f}",
            )
        return ""
    if account.remain_coins is not None:
        needed = cost_cny * COINS_PER_CNY
        if account.remain_coins < needed:
            return _(
                "This task may cost about {cost} coins, but the balance is {balance} coins. It "
                "will probably be refused; top up your RunningHub wallet first.",
                cost=f"{needed:,.0f}",
                balance=f"{account.remain_coins:,}",
            )
    return ""


@dataclass(frozen=True)
class KeyCheck:
    """The outcome of "Test key"."""

    ok: bool
    site: str  # the site that was asked first
    message: str  # one line for the person
    account: AccountStatus | None = None
    queue: QueueStatus | None = None
    belongs_to: str | None = None  # the other site, when the key works only there


async def _probe(key: str, base_url: str) -> tuple[AccountStatus, QueueStatus | None]:
    from rhdesk.api.client import RunningHubClient

    # Few retries: a person is waiting for the answer, and a wrong key is not going to improve.
    async with RunningHubClient(key, base_url, timeout=20.0, max_retries=1) as client:
        account = await client.account_status()
        queue = None
        with contextlib.suppress(RunningHubError):  # a convenience; the balance is the check
            queue = await client.queue_status()
        return account, queue


async def check_key(key: str, site: str, sites: Mapping[str, str]) -> KeyCheck:
    """Ask `site` for the account behind `key`; if it refuses the key, ask the other sites, so
    that a key pasted under the wrong site is recognised instead of reported as wrong."""
    try:
        account, queue = await _probe(key, sites[site])
    except AuthError as exc:
        refused = exc
    except RunningHubError as exc:
        return KeyCheck(False, site, _("Could not check the key: {error}", error=str(exc)))
    else:
        summary = balance_text(account) or _("no balance reported")
        return KeyCheck(
            True,
            site,
            _("The key works on {site}. {balance}", site=site_name(site), balance=summary),
            account,
            queue,
        )
    for other, url in sites.items():
        if other == site:
            continue
        try:
            account, queue = await _probe(key, url)
        except RunningHubError as exc:
            log.info("key check on %s: %s", other, type(exc).__name__)
            continue
        return KeyCheck(
            False,
            site,
            _("This key belongs to {site}.", site=site_name(other)),
            account,
            queue,
            belongs_to=other,
        )
    return KeyCheck(
        False,
        site,
        _("{site} did not accept this key: {error}", site=site_name(site), error=str(refused)),
    )
