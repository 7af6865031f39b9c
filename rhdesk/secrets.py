"""The API key: from RHDESK_API_KEY, else the OS keyring. Never written anywhere else."""

from __future__ import annotations

import os
from dataclasses import dataclass

from rhdesk.i18n.core import _

SERVICE = "rhdesk"
ENV_VAR = "RHDESK_API_KEY"


@dataclass(frozen=True)
class KeyLookup:
    key: str | None
    source: str  # "environment", "keyring", "session", "none"
    problem: str = ""  # why the keyring could not be used, in plain words


_session_keys: dict[str, str] = {}


class NoKeyringError(RuntimeError):
    """No safe keyring: the caller asks the user whether to keep the key for this session only."""


def _is_safe_backend(backend: object) -> bool:
    # keyring's "fail" backend stores nothing; keyrings.alt's file backends write the key to a
    # file in plain text (or with a key kept next to it): neither may be chosen silently.
    module = type(backend).__module__
    return not (module.startswith("keyring.backends.fail") or module.startswith("keyrings.alt"))


def keyring_problem() -> str:
    """Empty when a real OS keyring can hold the key; otherwise why not, in plain words."""
    try:
        import keyring

        backend = keyring.get_keyring()
    except Exception as exc:
        return _("The system keyring could not be opened ({error}).", error=type(exc).__name__)
    parts = getattr(backend, "backends", None) or [backend]  # a ChainerBackend tries several
    if not any(_is_safe_backend(b) for b in parts):
        return _(
            "This computer has no system keyring (such as Keychain, Credential Manager or "
            "Secret Service), so rhdesk cannot store the API key safely."
        )
    return ""


def keyring_name() -> str:
    """Where a stored key goes, for "Key saved in …" messages."""
    try:
        import keyring

        backend = keyring.get_keyring()
    except Exception:
        return _("the system keyring")
    parts = getattr(backend, "backends", None) or [backend]
    module = next((type(b).__module__ for b in parts if _is_safe_backend(b)), "")
    if "macOS" in module:
        return _("the macOS Keychain")
    if "Windows" in module:
        return _("Windows Credential Manager")
    if "SecretService" in module or "libsecret" in module:
        return _("the Secret Service keyring (GNOME Keyring or KWallet)")
    if "kwallet" in module.lower():
        return _("KWallet")
    return _("the system keyring")


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
            problem = _("The system keyring is not available ({error}).", error=type(exc).__name__)
            return KeyLookup(None, "none", problem)
    except Exception as exc:  # a broken backend must not stop the app from starting
        problem = _("The system keyring could not be read ({error}).", error=type(exc).__name__)
        return KeyLookup(None, "none", problem)
    return KeyLookup(value, "keyring") if value else KeyLookup(None, "none")


def store_api_key(site: str, key: str, *, session_only: bool = False) -> str:
    """Returns where the key went: "keyring" or "session". Raises NoKeyringError (a
    RuntimeError) if no safe keyring can hold it and session_only was not chosen: the caller
    asks the user. The key is never written anywhere else."""
    key = key.strip()
    if session_only:
        _session_keys[site] = key
        return "session"
    problem = keyring_problem()
    if problem:
        raise NoKeyringError(problem + " " + _("Keep the key for this session only instead?"))
    try:
        import keyring

        keyring.set_password(SERVICE, _username(site), key)
    except Exception as exc:
        # `from None` and the type name only: a backend's message could quote the password.
        raise NoKeyringError(
            _(
                "No system keyring is available to keep the API key safely ({error}). "
                "Keep it for this session only instead?",
                error=type(exc).__name__,
            )
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
