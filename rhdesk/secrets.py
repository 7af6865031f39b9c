"""The API key: from RHDESK_API_KEY, else the OS keyring. Never written anywhere else."""

from __future__ import annotations

import os
from dataclasses import dataclass

SERVICE = "rhdesk"
ENV_VAR = "RHDESK_API_KEY"


@dataclass(frozen=True)
class KeyLookup:
    key: str | None
    source: str  # "environment", "keyring", "session", "none"
    problem: str = ""  # why the keyring could not be used, in plain words


_session_keys: dict[str, str] = {}


def _username(site: str) -> str:
    return f"api-key:{site}"


def get_api_key(site: str) -> KeyLookup:
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return KeyLookup(env, "environment")
    if site in _session_keys:
        return KeyLookup(_session_keys[site], "session")
    try:
        import keyring
        from keyring.errors import KeyringError

        try:
            value = keyring.get_password(SERVICE, _username(site))
        except KeyringError as exc:
            return KeyLookup(
                None, "none", f"The system keyring is not available ({type(exc).__name__})."
            )
    except Exception as exc:  # a broken backend must not stop the app from starting
        return KeyLookup(
            None, "none", f"The system keyring could not be read ({type(exc).__name__})."
        )
    return KeyLookup(value, "keyring") if value else KeyLookup(None, "none")


def store_api_key(site: str, key: str, *, session_only: bool = False) -> str:
    """Returns where the key went: "keyring" or "session". Raises RuntimeError if the keyring
    cannot hold it and session_only was not chosen (the caller asks the user)."""
    key = key.strip()
    if session_only:
        _session_keys[site] = key
        return "session"
    try:
        import keyring

        keyring.set_password(SERVICE, _username(site), key)
    except Exception as exc:
        raise RuntimeError(
            "No system keyring is available to keep the API key safely "
            f"({type(exc).__name__}). Keep it for this session only instead?"
        ) from None
    _session_keys.pop(site, None)
    return "keyring"


def forget_api_key(site: str) -> None:
    _session_keys.pop(site, None)
    try:
        import keyring

        keyring.delete_password(SERVICE, _username(site))
    except Exception:
        pass


def mask(key: str | None) -> str:
    if not key:
        return ""
    return "•" * 8 + key[-4:] if len(key) > 8 else "•" * len(key)
