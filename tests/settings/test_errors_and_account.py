"""Errors a person understands, in English and Chinese; the account summary and low balance."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rhdesk.account import balance_text, counts_text, low_balance_warning
from rhdesk.api.errors import (
    CODE_ADVICE,
    CODE_MESSAGES,
    AuthError,
    BalanceError,
    ConcurrencyLimitError,
    ContentRefusedError,
    RunningHubError,
    error_for_code,
)
from rhdesk.api.types import AccountStatus, QueueStatus
from rhdesk.i18n.core import set_language

API_FACTS = Path("/work/shared/runninghub-api.md")
# The codes in the API facts, as of writing; the test also reads the file when it is there.
KNOWN_CODES = {
    "301", "415", "416", "421", "423", "807", "801", "802", "804", "805", "808", "809", "811",
    "812", "813", "814", "500", "1000", "1003", "1007", "1011", "1014", "1505", "1520", "1601",
}  # fmt: skip
# What to do next, per kind of trouble (English, lower case): one of these must be said.
NEXT_STEPS = ("top up", "concurrency", "prompt", "key", "wait", "run it again", "run again",
              "try again", "smaller", "call record", "administrator", "upgrade", "size")  # fmt: skip


def documented_codes() -> set[str]:
    if not API_FACTS.exists():
        return KNOWN_CODES
    text = API_FACTS.read_text(encoding="utf-8")
    section = text[text.index("## Errors and retries") :]
    section = section[: section.index("RunningHub's own client retries")]
    # Codes, not durations ("retry in 30–120 s") nor sizes.
    found = re.findall(r"(?<![\d.–-])(\d{3,4})(?![\d.]| s\b| MB)", section)
    return set(found) | KNOWN_CODES


@pytest.fixture(autouse=True)
def _english():
    set_language("en")
    yield
    set_language("en")


@pytest.mark.parametrize("code", sorted(documented_codes()))
def test_every_documented_code_says_what_happened_and_what_to_do(code: str) -> None:
    err = error_for_code(code, "server words")
    text = str(err)
    assert err.message and err.message != RunningHubError.default_message, code
    assert any(step in text.lower() for step in NEXT_STEPS), (code, text)
    assert f"code {code}" in text and "server words" in text
    set_language("zh_CN")
    zh = str(error_for_code(code, "server words"))
    assert re.search(r"[\u4e00-\u9fff]", zh) and not re.search(r"\b(the|is|and)\b", zh), zh
    assert f"错误码 {code}" in zh and "server words" in zh


def test_the_kind_of_error_decides_the_advice() -> None:
    assert isinstance(error_for_code("416"), BalanceError)
    assert "top up" in str(error_for_code("416")).lower()
    assert isinstance(error_for_code("1520"), ConcurrencyLimitError)
    assert "concurrency" in str(error_for_code("1520")).lower()
    assert isinstance(error_for_code("1505"), ContentRefusedError)
    assert "prompt" in str(error_for_code("1505")).lower()
    assert isinstance(error_for_code("1601"), AuthError)
    assert "key" in str(error_for_code("1601")).lower()
    assert "wait" in str(error_for_code("1011")).lower()
    assert set(CODE_ADVICE) <= documented_codes() | {"401"}
    assert set(CODE_MESSAGES) <= documented_codes()


def test_unknown_codes_show_the_code_and_the_server_text() -> None:
    err = error_for_code("9876", "quota of the moon exceeded")
    assert type(err) is RunningHubError
    assert "code 9876" in str(err) and "quota of the moon exceeded" in str(err)
    set_language("zh_CN")
    assert "错误码 9876" in str(error_for_code("9876", "quota of the moon exceeded"))


def test_core_validation_speaks_chinese() -> None:
    from rhdesk.core.catalogue import model_for
    from rhdesk.core.validation import check_all

    model = model_for("seedream-v4.5", True)
    set_language("zh_CN")
    problems = check_all(model, "hi", 100, 7, 0)
    assert problems and all(re.search(r"[\u4e00-\u9fff]", p.message) for p in problems)


def test_balance_and_counts() -> None:
    acc = AccountStatus(177814, 0, None, None, "NORMAL")
    assert balance_text(acc) == "Balance: 177,814 coins"
    money = AccountStatus(None, 0, 12.5, "USD", None)
    assert balance_text(money) == "Balance: 12.50 USD"
    assert balance_text(None) == ""
    q = QueueStatus("NORMAL", 3, 2, 5)
    assert counts_text(1, 0, q) == "2 running · 5 queued"
    assert counts_text(0, 0, None) == ""
    set_language("zh_CN")
    assert balance_text(acc) == "余额：177,814 币"


def test_low_balance_warns_only_when_it_is_known_to_be_low() -> None:
    assert low_balance_warning(AccountStatus(10, 0, None, None, None), 0.20)  # 10 < 20 coins
    assert not low_balance_warning(AccountStatus(10_000, 0, None, None, None), 0.20)
    assert low_balance_warning(AccountStatus(None, 0, 0.10, "CNY", None), 0.20)
    assert not low_balance_warning(AccountStatus(None, 0, 0.10, "USD", None), 0.20)  # unknown rate
    assert not low_balance_warning(None, 0.20)
    assert not low_balance_warning(AccountStatus(None, None, None, None, None), 0.20)
