"""CAPTURE_MAIL_URL: where mail goes (SMTP, a folder of .eml files, or the console)."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from capture.core.setting_checks import fail

MAIL_SCHEMES = ("smtp", "smtp+starttls", "smtps", "file", "console")


@dataclass(frozen=True)
class MailSettings:
    scheme: str
    host: str = ""
    port: int = 0
    username: str = ""
    password: str = ""
    path: str = ""

    def describe(self) -> str:
        """Where mail goes, for the start-up line (never shows the password)."""
        if self.scheme == "file":
            return f"written as .eml files to {self.path}/"
        if self.scheme == "console":
            return "printed to the console"
        return f"sent via {self.scheme}://{self.host}:{self.port}"


def parse_mail_url(value: str) -> MailSettings:
    """Turn CAPTURE_MAIL_URL into MailSettings, or fail naming the setting."""
    scheme, _, rest = value.partition(":")
    if scheme not in MAIL_SCHEMES:
        fail("MAIL_URL", f"'{scheme}' is not a mail transport (use one of {', '.join(MAIL_SCHEMES)})")
    if scheme == "console":
        return MailSettings("console")
    if scheme == "file":
        path = rest[2:] if rest.startswith("//") else rest
        if not path:
            fail("MAIL_URL", "file: needs a folder, as in file:var/mail or file:///srv/mail")
        return MailSettings("file", path=path.rstrip("/") or "/")
    parts = urlsplit(value)
    try:
        port = parts.port or (465 if scheme == "smtps" else 587 if scheme == "smtp+starttls" else 25)
    except ValueError:
        fail("MAIL_URL", "the port must be a number")
    if not parts.hostname:
        fail("MAIL_URL", f"{scheme}:// needs a host, as in {scheme}://user:pass@smtp.example.com:587")
    return MailSettings(scheme, parts.hostname, port, unquote(parts.username or ""),
                        unquote(parts.password or ""))
