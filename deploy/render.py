#!/usr/bin/env python3
"""Render an nginx template from deploy/nginx/ into a ready nginx config file.

    python3 deploy/render.py TEMPLATE [-o OUTPUT] NAME=VALUE ...

Templates hold two kinds of dollar words:
  ${UPPER_CASE}   filled here from NAME=VALUE (every one must be given, or the
                  render stops naming what is missing)
  $lower_case     nginx's own variables ($uri, $host...), left untouched
and one directive of this script's own: a line `@include PARTIAL` is replaced
by that partial (from the same folder), rendered with the same values.

Example (the one-server topology of handbook/operations.md):
    python3 deploy/render.py deploy/nginx/fernleaf.conf.in \\
        -o /etc/nginx/sites-available/fernleaf.conf \\
        LISTEN=80 SERVER_NAME=www.fernleaf.example \\
        SITE_ROOT=/srv/fernleaf/site API_UPSTREAM=127.0.0.1:8000

The end-to-end tests (tests/e2e/) render the same templates with this same
function, so the tested nginx configuration is the deployed one.
Standard library only: it runs with the server's own python3.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
INCLUDE = re.compile(r"^(?P<indent>[ \t]*)@include[ \t]+(?P<name>\S+)[ \t]*$", re.MULTILINE)


class RenderError(ValueError):
    """A template cannot be rendered; str() names the template and the problem."""


def render(template: Path, values: dict[str, str]) -> str:
    """The template's text with partials inlined and every ${NAME} filled."""
    text = expand(Path(template))
    missing = sorted({name for name in PLACEHOLDER.findall(text) if name not in values})
    if missing:
        raise RenderError(f"{template}: no value for {', '.join(missing)} (give NAME=VALUE)")
    return PLACEHOLDER.sub(lambda m: values[m[1]], text)


def expand(template: Path, _seen: tuple = ()) -> str:
    """The template's text with each `@include PARTIAL` line replaced by the partial."""
    if template.name in _seen:
        raise RenderError(f"{template}: @include loop through {template.name}")
    return INCLUDE.sub(lambda m: _inline(expand(template.parent / m["name"], _seen + (template.name,)),
                                         m["indent"]),
                       template.read_text(encoding="utf-8"))


def _inline(text: str, indent: str) -> str:
    """A partial's lines, indented, without its leading comment block (said once, in the partial)."""
    lines = text.rstrip("\n").splitlines()
    while lines and lines[0].lstrip().startswith("#"):
        lines.pop(0)
    return "\n".join(indent + line if line.strip() else line for line in lines)


def parse_assignments(words: list[str]) -> dict[str, str]:
    """NAME=VALUE words as a dict (a VALUE may be empty)."""
    values = {}
    for word in words:
        name, sep, value = word.partition("=")
        if not sep or not re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
            raise RenderError(f"'{word}' is not NAME=VALUE")
        values[name] = value
    return values


def main(argv: list[str]) -> int:
    """Command line: render one template to a file or to standard output."""
    args = list(argv)
    if not args or args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if args else 2
    template, output = Path(args.pop(0)), None
    if args[:1] == ["-o"] and len(args) > 1:
        output = Path(args[1])
        args = args[2:]
    try:
        text = render(template, parse_assignments(args))
    except (RenderError, OSError) as exc:
        print(f"render: {exc}", file=sys.stderr)
        return 1
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        print(f"render: wrote {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
