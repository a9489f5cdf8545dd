"""Mail headers that carry a visitor's text, kept literal from the form to the reader.

The email package's modern policy parses every header value it is given and
decodes any RFC 2047 encoded word in it (even inside a quoted display name),
then writes the decoded text back out raw: a name typed as
'=?utf-8?q?Ada=0D=0ACc:_x@evil.example?=' would become a real Cc header. So
these header objects are handed to the message ready-made (the policy stores
an object with a `name` as it is) and fold themselves: plain ASCII words go
out as they are, anything else as encoded words built by `email.header`, so a
mail client decodes exactly what the visitor typed and none of it is syntax.
"""
from __future__ import annotations

from email.header import Header
from email.headerregistry import Address
from email.utils import formataddr

ENCODED_WORD_START = "=?"


def is_plain(text: str) -> bool:
    """True when `text` can go into a header as it is: printable ASCII, no encoded word."""
    return text.isascii() and text.isprintable() and ENCODED_WORD_START not in text


def _encoded(text: str, name: str, linesep: str) -> str:
    charset = "us-ascii" if is_plain(text) else "utf-8"
    return Header(text, charset, header_name=name).encode(linesep=linesep)


class LiteralText(str):
    """An unstructured header (Subject) whose value is literal text; reads as that text."""

    def __new__(cls, name: str, text: str):
        if "\r" in text or "\n" in text:
            raise ValueError("a header value is one line")
        self = super().__new__(cls, text)
        self.name = name
        return self

    def fold(self, *, policy) -> str:
        """The header as it goes on the wire (what the email policy calls to write it)."""
        return f"{self.name}: {_encoded(str(self), self.name, policy.linesep)}{policy.linesep}"


class LiteralAddress(str):
    """An address header (Reply-To, To) whose display name is literal text.

    The address itself must be plain ASCII (forms.py refuses anything else), so
    it never needs encoding and can never be read as an encoded word.
    """

    def __new__(cls, name: str, addr_spec: str, display_name: str = ""):
        if not is_plain(addr_spec) or any(c in addr_spec for c in " <>,;\"()"):
            raise ValueError("the address must be plain ASCII with no specials")
        if "\r" in display_name or "\n" in display_name:
            raise ValueError("a display name is one line")
        self = super().__new__(cls, formataddr((display_name, addr_spec)) if is_plain(display_name)
                               else f"{display_name} <{addr_spec}>")
        self.name, self.addr_spec, self.display_name = name, addr_spec, display_name
        return self

    @property
    def addresses(self) -> tuple[Address, ...]:
        """The one address, as headerregistry reads it."""
        return (Address(display_name=self.display_name, addr_spec=self.addr_spec),)

    def fold(self, *, policy) -> str:
        """The header as it goes on the wire: a quoted or encoded name, then <address>."""
        return f"{self.name}: {self.value(policy)}{policy.linesep}"

    def value(self, policy) -> str:
        """The address as it goes on the wire, without the header's name."""
        if not self.display_name:
            return self.addr_spec
        if is_plain(self.display_name):
            return formataddr((self.display_name, self.addr_spec))
        return f"{_encoded(self.display_name, self.name, policy.linesep)} <{self.addr_spec}>"


class LiteralAddresses(str):
    """An address header with several literal addresses (a Reply-To to the prospect and the lead)."""

    def __new__(cls, name: str, *parts: LiteralAddress):
        self = super().__new__(cls, ", ".join(parts))
        self.name, self.parts = name, parts
        return self

    @property
    def addresses(self) -> tuple[Address, ...]:
        """Every address, as headerregistry reads them."""
        return tuple(a for part in self.parts for a in part.addresses)

    def fold(self, *, policy) -> str:
        """The header on the wire: the addresses, one per folded line after the first."""
        joiner = f",{policy.linesep} "
        return f"{self.name}: {joiner.join(part.value(policy) for part in self.parts)}{policy.linesep}"
