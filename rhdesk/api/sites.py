"""The RunningHub sites, and turning a site setting into an API base URL."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from rhdesk.api.urlpolicy import check_url_allowed

# Same paths on both; keys, balances and uploads belong to one site (a per-account setting).
SITES: dict[str, str] = {
    "cn": "https://www.runninghub.cn",
    "ai": "https://www.runninghub.ai",
}


def resolve_base_url(site_or_url: str) -> str:
    """A site key ("cn", "ai") or a URL (the emulator, a proxy) -> a base URL without trailing /.

    Raises InsecureURLError for anything `check_url_allowed` refuses, and ValueError for a URL
    with a query or fragment, which cannot be a base for API paths.
    """
    text = str(site_or_url).strip()
    if text.lower() in SITES:
        return SITES[text.lower()]
    check_url_allowed(text)
    parts = urlsplit(text)
    if parts.query or parts.fragment:
        raise ValueError("A RunningHub base URL cannot have a query or a fragment.")
    return urlunsplit((parts.scheme.lower(), parts.netloc, parts.path.rstrip("/"), "", ""))


# Where a person checks what RunningHub really ran and charged. The exact page of the call
# records is not documented [unknown]; the API console is reached from the site's personal centre.
CALL_RECORD_HINT = "RunningHub → personal centre → API console → call records"


def call_record_url(base_url: str) -> str:
    """The site's home page for a task's call record (the emulator has none: its own URL)."""
    for url in SITES.values():
        if base_url.rstrip("/") == url:
            return url + "/"
    return base_url.rstrip("/") + "/"
