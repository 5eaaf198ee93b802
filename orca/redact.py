"""Keep credentials out of everything written or printed.

API keys are read from the environment only, but users also put them in URLs: the user
part (`http://user:sk-...@host/v1`) and query parameters (`?api_key=sk-...`), in
`--base-url`, a pipeline's `collect.*.base_url` or `OPENAI_BASE_URL`. Every URL that goes
into run.json, a step record, a command line or a message passes through `redact_url`
(or `redact_text` for free text that may contain one). The request itself still uses the
URL as given.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")


def redact_url(url: str | None) -> str | None:
    """The URL with its user-info replaced by *** and every query value (and a fragment)
    masked; unchanged when it holds neither. Never raises: a URL that does not parse is
    cut at its query and its user-info dropped by pattern."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = MASK + "@" + netloc.rsplit("@", 1)[1]
        query = "&".join(f"{p.split('=', 1)[0]}={MASK}" if "=" in p else MASK
                         for p in parts.query.split("&")) if parts.query else ""
        return urlunsplit((parts.scheme, netloc, parts.path, query, MASK if parts.fragment else ""))
    except ValueError:
        head = re.sub(r"//[^/]*@", f"//{MASK}@", url.split("?", 1)[0].split("#", 1)[0])
        return head + (f"?{MASK}" if "?" in url else "")


def redact_text(text: str) -> str:
    """Every URL inside `text` redacted (a command line, an error message)."""
    return _URL.sub(lambda m: redact_url(m.group(0)), text)
