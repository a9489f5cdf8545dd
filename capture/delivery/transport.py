"""How a built message leaves: SMTP (plain, STARTTLS, implicit TLS), .eml files, or the console.

Chosen by CAPTURE_MAIL_URL. A transport raises `SendError` saying whether the
failure is permanent (a 5xx refusal of this message or recipient: retrying
cannot help) or temporary (connection trouble, 4xx, timeouts: retry later).
Error texts never include addresses, so they are safe to log.
"""
from __future__ import annotations

import os
import re
import smtplib
import ssl
import sys
import tempfile
from email import policy
from email.message import EmailMessage
from pathlib import Path

from capture.core.mail_url import MailSettings
from capture.core.errors import first_line


class SendError(Exception):
    """Sending failed; `permanent` says retrying this message cannot succeed."""

    def __init__(self, message: str, permanent: bool = False, detail: bytes | str = b"",
                 unreachable: bool = False):
        super().__init__(message)
        self.permanent = permanent
        # No connection could be opened: the next message would fail the same way.
        self.unreachable = unreachable
        # The server's own words: may name an address, so stored with the job, never logged.
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        self.detail = " ".join(str(detail).split())[:300]


def make_transport(mail: MailSettings, timeout: float):
    """The transport CAPTURE_MAIL_URL names."""
    if mail.scheme == "file":
        return FileTransport(Path(mail.path))
    if mail.scheme == "console":
        return ConsoleTransport()
    return SmtpTransport(mail, timeout)


class SmtpTransport:
    """One SMTP connection, opened on first use and kept while there is work."""

    def __init__(self, mail: MailSettings, timeout: float):
        self.mail, self.timeout, self.conn, self.tls = mail, timeout, None, None

    def send(self, msg: EmailMessage, sender: str, recipient: str) -> None:
        """Hand `msg` to the server for `recipient`; SendError if it is not accepted."""
        if self.conn is None:
            self.conn = self._connect()
        try:
            self.conn.send_message(msg, from_addr=sender, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            code, text = next(iter(exc.recipients.values()), (0, b""))
            raise SendError(f"recipient refused: {code}", code >= 500, text) from None
        except smtplib.SMTPDataError as exc:
            self.close()
            raise SendError(f"message refused: {exc.smtp_code}", exc.smtp_code >= 500,
                            exc.smtp_error) from None
        except smtplib.SMTPSenderRefused as exc:
            # The sender is ours: a configuration problem that hits every message, so retry.
            self.close()
            raise SendError(f"sender refused: {exc.smtp_code}", detail=exc.smtp_error) from None
        except smtplib.SMTPNotSupportedError:
            # e.g. an address that needs SMTPUTF8, which this server lacks: it never will.
            self.close()
            raise SendError("the server cannot take this message (no SMTPUTF8)", permanent=True) from None
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise SendError(f"server said {exc.smtp_code}", detail=exc.smtp_error) from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise SendError(f"{type(exc).__name__}: {first_line(exc, 120)}") from None

    def _connect(self) -> smtplib.SMTP:
        """Open, secure and log in; SendError(unreachable=True) if that fails."""
        mail = self.mail
        try:
            if mail.scheme == "smtps":
                conn = smtplib.SMTP_SSL(mail.host, mail.port, timeout=self.timeout,
                                        context=self._tls())
            else:
                conn = smtplib.SMTP(mail.host, mail.port, timeout=self.timeout)
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(f"cannot connect: {type(exc).__name__}: {first_line(exc, 120)}",
                            unreachable=True) from None
        try:
            if mail.scheme == "smtp+starttls":
                conn.starttls(context=self._tls())
            if mail.username:
                conn.login(mail.username, mail.password)
        except smtplib.SMTPAuthenticationError as exc:
            _quietly_close(conn)
            raise SendError(f"authentication failed: {exc.smtp_code} (check CAPTURE_MAIL_URL)",
                            detail=exc.smtp_error, unreachable=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            _quietly_close(conn)
            raise SendError(f"cannot start the session: {type(exc).__name__}: {first_line(exc, 120)}",
                            unreachable=True) from None
        return conn

    def _tls(self) -> ssl.SSLContext:
        # Built once: loading the system's CA certificates takes a while.
        if self.tls is None:
            self.tls = ssl.create_default_context()
        return self.tls

    def close(self) -> None:
        """Say goodbye to the server (when the queue is empty, or after an error)."""
        conn, self.conn = self.conn, None
        if conn is not None:
            _quietly_close(conn)


class FileTransport:
    """One .eml file per message in a folder; a resend overwrites the same file."""

    def __init__(self, folder: Path):
        self.folder = folder

    def send(self, msg: EmailMessage, sender: str, recipient: str) -> None:
        """Write `msg` atomically as <message-id>.eml."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9._-]", "_", str(msg["Message-ID"]).strip("<>")) + ".eml"
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".eml")
            with os.fdopen(fd, "wb") as handle:
                handle.write(msg.as_bytes(policy=policy.SMTP))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.folder / name)
        except OSError as exc:
            raise SendError(f"cannot write to the mail folder: {exc.strerror}") from None

    def close(self) -> None:
        """Nothing to close."""


class ConsoleTransport:
    """Print each message to standard output (development)."""

    def send(self, msg: EmailMessage, sender: str, recipient: str) -> None:
        """Print the message with a separator line."""
        sys.stdout.write(f"{'-' * 30} mail {'-' * 30}\n{msg.as_string()}\n")
        sys.stdout.flush()

    def close(self) -> None:
        """Nothing to close."""


def _quietly_close(conn: smtplib.SMTP) -> None:
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        conn.close()
