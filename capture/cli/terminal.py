"""Printing stored text to a terminal: every unsafe character escaped."""
from __future__ import annotations

import unicodedata

import click

# Control, format (bidi overrides, zero-width), separator and surrogate characters:
# stored text shown to a terminal must not move the cursor, recolour the screen,
# or read in another order than it is.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


def terminal_safe(text: str) -> str:
    """`text` with every unsafe character shown as an escape such as \\u202e (newlines kept)."""
    return "".join(f"\\u{ord(c):04x}" if c != "\n" and unicodedata.category(c) in UNSAFE_CATEGORIES
                   else c for c in text)


def echo(text: str = "", **kwargs) -> None:
    """click.echo for anything that may contain stored text."""
    click.echo(terminal_safe(text), **kwargs)
