"""The built site read as a visitor reads it: the text of each paragraph, list item and caption."""
from __future__ import annotations

from html.parser import HTMLParser

BLOCKS = {"p", "li", "figcaption", "td", "th", "dd", "dt", "h1", "h2", "h3", "h4", "h5", "h6"}


class Blocks(HTMLParser):
    """Each block element's own text (a paragraph inside a list item is its own block),
    the figcaptions of testimonials (figure.fl-quote), and the bold names (<strong>)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self.quote_captions: list[str] = []
        self.strong: list[str] = []
        self._open: list[list[str]] = []
        self._tags: list[str] = []
        self._in_quote = 0
        self._strong: list[str] | None = None
        self._skip = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if tag in ("script", "style", "svg"):
            self._skip += 1
        if tag == "figure":
            self._in_quote += 1 if "fl-quote" in classes else 0
            self._tags.append("figure-quote" if "fl-quote" in classes else "figure")
        if tag in BLOCKS:
            self._open.append([])
        if tag == "strong":
            self._strong = []

    def handle_endtag(self, tag):
        if tag in ("script", "style", "svg"):
            self._skip -= 1
        if tag == "figure" and self._tags:
            self._in_quote -= 1 if self._tags.pop() == "figure-quote" else 0
        if tag == "strong" and self._strong is not None:
            self.strong.append(" ".join("".join(self._strong).split()))
            self._strong = None
        if tag in BLOCKS and self._open:
            text = " ".join("".join(self._open.pop()).split())
            if text:
                self.blocks.append(text)
                if tag == "figcaption" and self._in_quote:
                    self.quote_captions.append(text)

    def handle_data(self, data):
        if self._skip:
            return
        if self._open:
            self._open[-1].append(data)
        if self._strong is not None:
            self._strong.append(data)
