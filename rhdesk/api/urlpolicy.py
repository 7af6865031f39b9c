"""Which addresses rhdesk talks to (no httpx here: the window imports this at start-up)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from rhdesk.api.errors import InsecureURLError
from rhdesk.i18n.core import _


def is_loopback_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def check_url_allowed(url: str) -> None:
    """Refuse every URL but https://, and http:// to this computer (the emulator, a local proxy).

    A result or an API reply fetched over plain http from elsewhere could be swapped in transit,
    and an API call over plain http would carry the key in clear text.
    """
    try:
        parts = urlsplit(str(url).strip())
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise InsecureURLError(_("That address is not a valid URL.")) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"{scheme}://" if scheme else _("an address without http(s)://")
        raise InsecureURLError(_("Refusing {what}: only https:// is allowed.", what=shown))
    if not host:
        raise InsecureURLError(_("That address has no host name."))
    if scheme == "http" and not is_loopback_host(host):
        raise InsecureURLError(
            _("Refusing plain http:// to {host}, which is not this computer.", host=host)
        )
