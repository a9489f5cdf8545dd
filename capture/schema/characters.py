"""The characters a typed answer may hold, as regular-expression classes.

validation.py compiles its checks from these, and the API description (capture/intake/
openapi_fields.py) writes them into JSON Schema patterns, so the server and the description
cannot drift apart. Each is the inside of a `[...]` class, spelled with \\xHH and \\uHHHH
escapes only, which Python, ECMA-262 (JSON Schema) and Rust's regex read alike.
"""
from __future__ import annotations

# What str.strip() removes: every character Python calls whitespace.
WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# C0 and C1 controls (tab, CR and LF are handled by the field type). Lone surrogates are refused
# too (JSON can carry "\ud800", which no database or mail can encode), but JSON Schema's strings
# are code points and cannot name them, so validation.py adds them to its own check.
CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f"
SURROGATES = r"\ud800-\udfff"
LINE_BREAKS = r"\r\n\u2028\u2029\x85"
# Bidirectional overrides and isolates make a name or a link read differently
# from what it is (in the desk, in a terminal, in a mail client).
BIDI_CONTROLS = r"\u202a-\u202e\u2066-\u2069"
# Invisible characters with no job in a single line of text. Zero-width
# (non-)joiners stay: Persian, Indic scripts and emoji need them.
INVISIBLE = r"\u200b\u2060\ufeff"

# A phone number: an optional +, then 6 to 20 digits among spaces, brackets, dots, dashes and slashes.
TEL = r"\+?[ ().\-/]*(?:[0-9][ ().\-/]*){6,20}"
# A web address: http:// or https:// (or neither: https:// is assumed), a host name with a dot
# (Latin letters, accented ones too, digits and hyphens; punycode for other scripts), an optional
# port, then an optional path, query or fragment of visible ASCII.
HOST_LABEL = r"[\-0-9A-Za-z\u00c0-\u024f]+"
WEB_ADDRESS = (rf"(?:[hH][tT][tT][pP][sS]?://)?(?:{HOST_LABEL}\.)+{HOST_LABEL}\.?"
               r"(?::[0-9]{1,5})?(?:[/?#][!-~]*)?")
