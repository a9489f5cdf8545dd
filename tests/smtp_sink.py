"""A real SMTP server (aiosmtpd) on loopback for mail tests, plus worker-process helpers."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import ROOT, TEST_SECRET
from tests.gunicorn_server import free_port


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage
    at: float  # time.monotonic() when the server accepted it
    raw: bytes = b""  # the message as it arrived
    options: list[str] = field(default_factory=list)  # MAIL FROM parameters, e.g. BODY=8BITMIME


@dataclass
class Handler:
    """Records accepted messages; can refuse recipients or stall a session on demand."""
    messages: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> SMTP reply
    stall: threading.Event = field(default_factory=threading.Event)  # set: hold RCPT
    stalled: threading.Event = field(default_factory=threading.Event)  # a session is held
    lock: threading.Lock = field(default_factory=threading.Lock)
    eight_bit_mime: bool = True  # False: a 7-bit server (RFC 5321 without RFC 6152)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return responses if self.eight_bit_mime else [r for r in responses if "8BITMIME" not in r]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        while self.stall.is_set():
            self.stalled.set()
            await asyncio.sleep(0.02)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if not self.eight_bit_mime and not envelope.content.isascii():
            # What a 7-bit relay may do is strip the eighth bit; refusing makes it visible.
            return "554 5.6.1 8-bit data, but this server does not offer 8BITMIME"
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message,
                                          time.monotonic(), envelope.content, list(envelope.mail_options)))
        return "250 Message accepted for delivery"


class SmtpSink:
    """aiosmtpd on 127.0.0.1:port; stop() and start() again to simulate an outage."""

    def __init__(self, port: int | None = None, eight_bit_mime: bool = True):
        self.port = port or free_port()
        self.handler = Handler(eight_bit_mime=eight_bit_mime)
        self.controller = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def messages(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.messages)

    def start(self) -> "SmtpSink":
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                     server_hostname="sink.localhost")
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def message_ids(self) -> Counter:
        return Counter(r.message["Message-ID"] for r in self.messages)

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.messages


@pytest.fixture
def smtp_sink():
    """A running SMTP server that records what it accepts."""
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def seven_bit_sink():
    """An SMTP server without 8BITMIME that refuses 8-bit data (as a strict old relay would)."""
    sink = SmtpSink(eight_bit_mime=False).start()
    yield sink
    sink.stop()


def worker_env(database_url: str, mail_url: str, **extra) -> dict:
    """Environment for a standalone worker process with short test timings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPTURE_")}
    env.update({"CAPTURE_DATABASE_URL": database_url, "CAPTURE_SECRET_KEY": TEST_SECRET,
                "CAPTURE_MAIL_URL": mail_url, "CAPTURE_WORKER_POLL": "0.05s",
                "CAPTURE_MAIL_TIMEOUT": "1s", "CAPTURE_MAIL_LEASE": "2s",
                "CAPTURE_MAIL_RETRY_FIRST": "0.1s", "CAPTURE_MAIL_RETRY_MAX": "0.5s", "CAPTURE_DIGEST": "0"})
    env.update({f"CAPTURE_{k.upper()}": v for k, v in extra.items()})
    return env


def start_worker(env: dict, name: str, log_path) -> subprocess.Popen:
    """`flask --app capture worker --name NAME` as its own process."""
    log = open(log_path, "ab")
    try:
        return subprocess.Popen([sys.executable, "-m", "flask", "--app", "capture", "worker",
                                 "--name", name], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    finally:
        log.close()
