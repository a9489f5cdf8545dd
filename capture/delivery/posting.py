"""One POST with a deadline for the whole exchange, and what its answer means.

Each POST has a total deadline (webhooks.DEADLINE, 10 s; never above
CAPTURE_MAIL_TIMEOUT, itself at most half CAPTURE_MAIL_LEASE): connecting, the
TLS handshake, sending, and the answer's status line and headers must all be
done by then. A per-read timeout alone (all that requests and urllib3 offer)
starts again with every byte, so a receiver that trickles its status line a
byte a second could hold the worker as long as it liked, past the job's lease,
and another worker would then send the event again. So the connection is made
with the standard library's http.client, overriding its documented
`connect()`: the socket goes to a watchdog (a threading.Timer) before the first
byte, and at the deadline the watchdog shuts the socket down, which ends
whatever wait is in progress at once. The one wait it cannot end is name
resolution (the system resolver's own timeouts bound it); a connect attempt
gets the time left.
"""
from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from urllib.parse import urlsplit

from capture.delivery.transport import SendError


class CannotConnect(OSError):
    """No connection could be made; str() is the cause's type (refused, DNS, TLS…)."""


class Watchdog:
    """Shuts a connection's socket down once `seconds` have passed, which ends any wait on it at once."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.expired = False
        self._sock: socket.socket | None = None
        self._over = False
        self._lock = threading.Lock()  # never a shutdown once the connection may be closed
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._over = True
        self._timer.cancel()

    def left(self) -> float:
        """Seconds until the deadline (a little above zero once past: a socket timeout must be)."""
        return max(0.01, self.ends - time.monotonic())

    def watch(self, sock: socket.socket) -> None:
        """Hold this socket from now on; TimeoutError if the deadline has already passed."""
        with self._lock:
            if self.expired:
                raise TimeoutError("the deadline passed")
            self._sock = sock

    def _expire(self) -> None:
        with self._lock:
            if self._over:
                return
            self.expired = True
            if self._sock is not None:
                try:  # the plain socket's shutdown, also under TLS: both directions, at the TCP level
                    socket.socket.shutdown(self._sock, socket.SHUT_RDWR)
                except OSError:
                    pass  # not connected (any more): the wait is over anyway


class Connection(http.client.HTTPConnection):
    """One HTTP/1.1 connection (no proxy, no redirect) whose socket the watchdog holds before any byte."""

    def __init__(self, url: str, watchdog: Watchdog, tls: ssl.SSLContext | None):
        parts = urlsplit(url)
        self.default_port = 443 if tls else 80  # the Host header leaves out the usual port
        super().__init__(parts.hostname, parts.port or self.default_port, timeout=watchdog.seconds)
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.watchdog, self.tls = watchdog, tls

    def connect(self) -> None:
        """TCP within the time left, then the TLS handshake, both under the watchdog; CannotConnect."""
        try:
            self.sock = socket.create_connection((self.host, self.port), self.watchdog.left())
            self.watchdog.watch(self.sock)
            if self.tls is not None:
                self.sock = self.tls.wrap_socket(self.sock, server_hostname=self.host,
                                                 do_handshake_on_connect=False)
                self.watchdog.watch(self.sock)
                self.sock.do_handshake()
        except OSError as exc:
            raise CannotConnect(type(exc).__name__) from exc


def post(url: str, body: bytes, headers: dict, deadline: float, tls: ssl.SSLContext) -> int:
    """POST `body` and return the answer's status, all within `deadline` seconds (TimeoutError past it).

    Only the status line and headers are read: the answer's body is neither read nor kept (it
    may echo the person's details back). CannotConnect if no connection was made; OSError or
    http.client.HTTPException for an answer cut short or not HTTP.
    """
    watchdog = Watchdog(deadline)
    conn = Connection(url, watchdog, tls if urlsplit(url).scheme == "https" else None)
    try:
        with watchdog:  # over before the socket is closed, so it never shuts down a reused descriptor
            conn.request("POST", conn.target, body=body, headers=headers)
            return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        if watchdog.expired:
            raise TimeoutError(f"no answer within {deadline:g}s") from None
        raise
    finally:
        conn.close()


def refusal(name: str, code: int) -> SendError:
    """What an HTTP answer other than 2xx means: 5xx, 408 and 429 pass; other 4xx and 3xx will not."""
    if 300 <= code < 400:
        return SendError(f"webhook endpoint {name} answered HTTP {code}, a redirect, which is never "
                         "followed: put the new URL in sales.yml", permanent=True)
    permanent = 400 <= code < 500 and code not in (408, 429)
    return SendError(f"webhook endpoint {name} answered HTTP {code}", permanent=permanent)
