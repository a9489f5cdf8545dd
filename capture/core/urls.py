"""Links that leave the app: absolute URLs in emails, webhooks and redirects, built one way.

Outside a request Flask's url_for cannot know the public host, so these links start from a
configured base: CAPTURE_PUBLIC_URL for the desk and the one-click pages, CAPTURE_SITE_URL for
the marketing site. The base may carry a path (a service under /capture); paths are
percent-quoted and query values encoded here, never pasted into an f-string.
"""
from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

# Characters a path may hold as they are (RFC 3986 pchar and "/"); "%" stays so that an
# already quoted path is not quoted twice.
PATH_SAFE = "/:@!$&'()*+,;=~%"


def external(base: str, path: str = "", **query) -> str:
    """`path` under `base` with `query` added (None values left out); '' as base gives a path on our host.

    external("https://capture.example", "/desk/report", since=date(2026, 11, 30))
    → 'https://capture.example/desk/report?since=2026-11-30'
    """
    if path and not path.startswith("/"):
        raise ValueError(f"{path!r}: a path under the base starts with /")
    root, extra = urlsplit(base), urlsplit(path)
    params = [*parse_qsl(root.query, keep_blank_values=True), *parse_qsl(extra.query, keep_blank_values=True),
              *((name, str(value)) for name, value in query.items() if value is not None)]
    full_path = root.path.rstrip("/") + quote(extra.path, safe=PATH_SAFE) if extra.path else root.path
    return urlunsplit((root.scheme, root.netloc, full_path, urlencode(params), extra.fragment or root.fragment))
