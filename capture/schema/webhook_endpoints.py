"""The webhook endpoints in sales.yml: a name, an https URL and the events each wants."""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from capture.schema import checks

WEBHOOK_KEYS = ("name", "url", "events")
# What an endpoint may subscribe to (webhooks.py sends them).
WEBHOOK_EVENTS = ("lead.created", "lead.status_changed", "booking.created", "booking.cancelled",
                  "booking.moved", "lead.erased", "booking.no_show")
ENDPOINT_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,29}$")


@dataclass(frozen=True)
class Endpoint:
    """A receiver of outgoing webhooks; its secret is a setting, never in sales.yml."""
    name: str
    url: str
    events: frozenset[str]

    @property
    def secret_variable(self) -> str:
        """The environment variable holding this endpoint's signing secret."""
        return f"CAPTURE_WEBHOOK_SECRET_{self.name.upper()}"


def parse_webhooks(raw) -> tuple[Endpoint, ...]:
    """The webhook endpoints: each with a unique name, an https URL and the events it wants."""
    if raw is None:
        return ()
    return checks.parsed_list(raw, "webhooks", "endpoints with name, url and events", _parse_endpoint, "name")


def _parse_endpoint(raw, where: str) -> Endpoint:
    checks.mapping(raw, where, WEBHOOK_KEYS, required=WEBHOOK_KEYS)
    name = raw["name"]
    if not isinstance(name, str) or not ENDPOINT_NAME_RE.match(name):
        raise ValueError(f"{where}.name: '{name}' must be lower-case letters, digits and '_' "
                         "(it names the secret's variable, CAPTURE_WEBHOOK_SECRET_NAME)")
    events = checks.choices(raw["events"], f"{where}.events", WEBHOOK_EVENTS, "event")
    if len(set(events)) != len(events):
        raise ValueError(f"{where}.events: an event is listed twice")
    return Endpoint(name=name, url=_webhook_url(raw["url"], f"{where}.url"), events=frozenset(events))


def _webhook_url(raw, where: str) -> str:
    """An https URL (plain http only to this machine, for tests), with no credentials in it."""
    url = str(raw).strip()
    try:
        parts = urlsplit(url)
        if parts.port == 0:  # .port raises ValueError for one that is not a number up to 65535
            raise ValueError
    except ValueError:
        raise ValueError(f"{where}: '{raw}' is not a URL") from None
    if not parts.hostname or parts.scheme not in ("https", "http") or any(c.isspace() for c in url):
        raise ValueError(f"{where}: '{raw}' is not an https:// URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{where}: put no credentials in the URL (the signature authenticates us)")
    if parts.fragment:
        raise ValueError(f"{where}: '{raw}' has a #fragment, which is never sent")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ValueError(f"{where}: '{raw}' must use https:// (plain http only to this machine)")
    return url


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
