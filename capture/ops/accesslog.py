"""gunicorn's access log without what must not be kept in it.

Query strings go (a desk search names a person), and so do the tokens in the
one-click and sign-in links (they act for whoever holds them, for days):
`GET /actions/[token]/[token] HTTP/1.1`. deploy/gunicorn.conf.py and `make serve`
use this logger; nginx keeps no access log for those paths at all.
"""
from __future__ import annotations

import re

from gunicorn.glogging import Logger

# Everything after these prefixes is a token or names what one acts on (/actions/booking/<token>):
# every segment goes, so no future link shape can put a token in the log.
TOKEN_PATH = re.compile(r"^(/actions|/desk/sign-in)(/.*)$", re.S)


def redact(path: str) -> str:
    """A request path with every segment after a link prefix replaced by [token]."""
    found = TOKEN_PATH.match(path or "")
    if found is None:
        return path or ""
    return found[1] + re.sub(r"[^/]+", "[token]", found[2])


class RedactingLogger(Logger):
    """gunicorn's logger, with the request line, path, query and referrer made safe to keep."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        path = redact(environ.get("PATH_INFO", ""))
        atoms.update(r=f"{environ.get('REQUEST_METHOD')} {path} {environ.get('SERVER_PROTOCOL')}",
                     U=path, q="-", f="-")
        for key in ("{raw_uri}e", "{query_string}e", "{referer}i", "{path_info}e"):
            atoms.pop(key, None)
        return atoms
