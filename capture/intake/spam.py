"""The spam verdict: clean, suspect or spam, with the reasons that produced it.

Every signal is cheap and local (no network call, no third party). Each adds
a weight; the sum decides. The weights are set so that no single signal a
real person can trip on its own (one link, a fast autofill, a finance word,
a throwaway address) reaches `spam`: a false positive costs a customer, a
missed spam costs a click in the desk. Only the signals no person produces
(the hidden honeypot, a link in the name) are spam alone.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from disposable_email_domains import blocklist as DISPOSABLE_DOMAINS

from capture.schema.forms import Form

CLEAN, SUSPECT, SPAM = "clean", "suspect", "spam"
SUSPECT_AT = 3  # sales are told, with "[Check: possible spam]" and the reasons on top
SPAM_AT = 6  # quarantined: stored, nobody told, reviewable in the desk's spam tray

# Weights, and why each is what it is.
HONEYPOT = 10  # people never see the field: any answer is a bot's
LINK_IN_NAME = 6  # nobody's name is a URL
DOMAIN_IN_NAME = 3  # "ann.lee.com" may be a slip of the keyboard; "http://…" is not
LINK_IN_COMPANY = 3  # some people type their web address as their business name
TOO_FAST = 4  # under 3 s: no person reads and fills a form that fast, autofill included
QUICK = 2  # under 8 s: possible for a one-line message with autofill, so only a hint
MANY_LINKS = 3  # 3-4 links: a prospect shows their site and one they like, rarely more
LINK_FLOOD = 5  # 5 or more
SHORTENER = 3  # a prospect links to their own site; hidden destinations are for clicks
PITCH = 3  # one sales pitch aimed at us: suspect alone, spam with any other signal
MONEY = 2  # crypto, loans, casinos: also a real prospect's trade, so a hint only
OTHER_SCRIPT = 3  # message in a script no other field uses (Cyrillic under "Robertnix"): rare for a
# prospect of a UK studio, so worth a look, but never spam alone
OUTSIDE_LINK = 1  # a link to a site not their own: a prospect may show one they like, so a hint
DISPOSABLE = 3  # throwaway addresses are used by people who want no reply, or by bots
REPEATED = 3  # the same message from another address today: a campaign
REPEATED_MORE = 5  # from two or more other addresses

FAST_MS, QUICK_MS = 3_000, 8_000
REPEAT_WINDOW = timedelta(days=1)
REPEAT_MIN_LENGTH = 40  # "Please call me back" may well be sent twice by two people

URL = re.compile(r"(?:\bhttps?://|\bwww\.)[^\s<>\"']+", re.IGNORECASE)
DOMAIN = re.compile(r"\b[a-z0-9-]+\.(?:com|net|org|ru|xyz|top|io|info|biz|shop|site|online)\b",
                    re.IGNORECASE)
NUMBERS = re.compile(r"\d+")
SHORTENERS = frozenset({
    "bit.ly", "tinyurl.com", "t.co", "goo.gl", "ow.ly", "is.gd", "buff.ly", "rebrand.ly",
    "cutt.ly", "shorturl.at", "rb.gy", "t.ly", "tiny.cc", "bl.ink", "s.id", "v.gd", "lnkd.in",
    "shorte.st", "adf.ly", "linktr.ee", "clck.ru", "qr.ae"})

# Pitches are phrased at *us* ("your website", "agencies like yours"), which is
# how they differ from a prospect describing what they want ("we need good SEO").
PITCHES = {
    "an SEO or link-building pitch": re.compile(
        r"back-?links? (?:from|on|for)|(?:high[- ]quality|do-?follow|permanent) (?:back)?links"
        r"|guest[- ]?posts? (?:on|for|from|to)|sponsored (?:posts?|articles?)|write for us|do-?follow"
        r"|link insertions?|link[- ]building (?:service|package)"
        r"|domain authority|\b(?:DA|DR)\s?\d{2}\+?"
        r"|your (?:web)?site(?:'s)? (?:is not|isn't|does not|doesn't) (?:rank|show|appear)"
        r"|(?:you are|you're|your (?:web)?site is) not (?:on|ranking on) (?:the )?(?:first|1st) page"
        r"|guarantee\w* (?:top|#|first[- ]page) ?\d* ?rank"
        r"|(?:rank|ranking) your (?:web)?site|(?:increase|boost|more)(?: your)?(?: organic)? traffic to your"
        r"|seo (?:services|experts?|specialists?|audit of your|report for your)"
        r"|(?:audit|report) (?:of|for|on) your (?:web)?site|your google (?:maps|business profile)"
        r"|google (?:maps )?ranking and|\bcertified google partner", re.IGNORECASE),
    "an offer of web or app work to us": re.compile(
        r"white[- ]?label (?:services|development|partner)|outsourc|offshore"
        r"|hire (?:our |dedicated |expert )+(?:developers|designers)"
        r"|(?:we are|we're) a (?:team|group) of (?:\d+\+? )?(?:skilled |expert |experienced )?"
        r"(?:developers|designers|programmers)|overflow (?:projects|work)|top rated freelancer"
        r"|(?:redesign|rebuild|revamp) (?:it|your (?:web)?site) (?:for|into)|your (?:web)?site (?:looks|is) (?:outdated|old|slow)"
        r"|\d+% (?:lower|less) (?:cost|than)|lower cost than local", re.IGNORECASE),
    "cold outreach": re.compile(
        r"appointment setting|lead generation (?:company|agency|service|campaign|for you)"
        r"|(?:pre-?qualified|qualified sales) (?:leads|calls)|pay per lead|send you \d+ (?:free )?leads"
        r"|(?:book|get) you (?:\d+ )?(?:more )?(?:qualified )?(?:appointments|meetings|calls|clients)"
        r"|unsubscribe|opt[- ]out|reply (?:with )?[\"'“]?(?:yes|stop|interested)\b"
        r"|(?:grow|boost) your (?:youtube|instagram|tiktok|social)|real (?:followers|subscribers|views)"
        r"|\bour ai (?:chat ?bot|voice|receptionist)|ai voice agent|book a demo"
        r"|(?:agencies|studios|businesses|companies) like yours|a studio like yours"
        r"|(?:i|we) can (?:help you get|increase your|boost your|send you|handle your|get you)"
        r"|(?:results|money[- ]back) guaranteed|your money back|or you don'?t pay|slots? left this"
        r"|consider selling your|list of [\d,]+ (?:uk )?business|verified (?:emails|email addresses)",
        re.IGNORECASE),
    "an investment scheme": re.compile(
        r"(?:join|over) [\d,]+\+? (?:happy |satisfied )?(?:investors|traders|members)|no experience needed"
        r"|withdraw (?:any ?time|instantly)|trading (?:bot|platform|signals)|(?:double|triple) your (?:money|investment)",
        re.IGNORECASE),
    "a threat or a payment notice": re.compile(
        r"\bdmca\b|copyright infringement|legal action (?:will be|against you)|takedown notice"
        r"|final notice|failure to renew|(?:will|may) be suspended|expires today|payment (?:is )?(?:pending|overdue)",
        re.IGNORECASE),
    "a price offered to us": re.compile(
        r"(?:for|from) (?:only|just) [$€£]\s?\d|\b(?:only|just) [$€£]\s?\d+ (?:per|for the|a) "
        r"|[$€£]\s?\d+ ?(?:/|per) ?(?:link|post|lead|month|hour|hr)\b|prices start (?:from|at)",
        re.IGNORECASE),
}
MONEY_WORDS = re.compile(
    r"crypto|bitcoin|\bbtc\b|\busdt\b|forex|binary options|passive income|investment opportunit"
    r"|business (?:funding|loans?)|working capital|merchant cash|casino|free spins|welcome bonus"
    r"|betting|viagra|cialis|\bloans? (?:offer|approved|up to)|guaranteed (?:returns|profit)"
    r"|(?:made|earn|earned|make) [£$€][\d,]+ (?:last|a|per|every) (?:month|week|day)", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    """The filter's answer for one submission."""
    label: str
    score: int
    reasons: tuple[str, ...] = field(default=())

    @property
    def spam(self) -> bool:
        return self.label == SPAM


@dataclass
class _Tally:
    score: int = 0
    reasons: list[str] = field(default_factory=list)

    def add(self, weight: int, reason: str) -> None:
        self.score += weight
        self.reasons.append(reason)


def judge(form: Form, values: dict, *, honeypot: bool = False, time_on_form_ms: int | None = None,
          repeats: int = 0) -> Verdict:
    """The verdict for validated `values`.

    `time_on_form_ms` is None when the site's script did not run (no penalty:
    people browse without JavaScript); `repeats` is how many other addresses
    sent the same message in the last day (see `body_hash`).
    """
    tally = _Tally()
    if honeypot:
        tally.add(HONEYPOT, "the hidden honeypot field was filled in")
    _timing(tally, time_on_form_ms)
    _links(tally, form, values)
    _pitches(tally, _free_text(form, values))
    _script(tally, form, values)
    _address(tally, values.get("email"))
    if repeats:
        tally.add(REPEATED_MORE if repeats > 1 else REPEATED,
                  f"the same message came from {repeats} other address{'es' if repeats > 1 else ''} today")
    label = SPAM if tally.score >= SPAM_AT else SUSPECT if tally.score >= SUSPECT_AT else CLEAN
    return Verdict(label, tally.score, tuple(tally.reasons))


def _timing(tally: _Tally, ms: int | None) -> None:
    if ms is None:
        return
    if ms < FAST_MS:
        tally.add(TOO_FAST, f"the form was filled in {ms / 1000:.1f} seconds")
    elif ms < QUICK_MS:
        tally.add(QUICK, f"the form was filled in {ms / 1000:.0f} seconds")


def _links(tally: _Tally, form: Form, values: dict) -> None:
    name, company = str(values.get("name") or ""), str(values.get("company") or "")
    if URL.search(name):
        tally.add(LINK_IN_NAME, "a link in the name field")
    elif DOMAIN.search(name):
        tally.add(DOMAIN_IN_NAME, "a web address in the name field")
    if URL.search(company):
        tally.add(LINK_IN_COMPANY, "a link in the company field")
    hosts = [_host(url) for url in URL.findall(_free_text(form, values))]
    own = _own_domains(values)
    outside = [h for h in hosts if not any(h == d or h.endswith("." + d) for d in own)]
    # Links to their own site (a pasted signature) are no sign of anything.
    if len(outside) >= 5:
        tally.add(LINK_FLOOD, f"{len(outside)} links to other sites in the message")
    elif len(outside) >= 3:
        tally.add(MANY_LINKS, f"{len(outside)} links to other sites in the message")
    elif outside:
        tally.add(OUTSIDE_LINK, "a link to a site other than their own")
    short = sorted({h for h in hosts if h in SHORTENERS})
    if short:
        tally.add(SHORTENER, f"a shortened link ({', '.join(short)})")


def _own_domains(values: dict) -> set[str]:
    """The visitor's own domains: their address's and their website's (not a free mail service's)."""
    found = {str(values.get("email") or "").rpartition("@")[2].lower()}
    if values.get("website"):
        found.add(_host(str(values["website"])))
    return {d for d in found if "." in d}


def _host(url: str) -> str:
    rest = re.sub(r"^(?:https?://)", "", url, flags=re.IGNORECASE)
    host = re.split(r"[/?#:]", rest, maxsplit=1)[0].lower()
    return host[4:] if host.startswith("www.") else host


def _pitches(tally: _Tally, text: str) -> None:
    for name, pattern in PITCHES.items():
        if pattern.search(text):
            tally.add(PITCH, name)
    found = MONEY_WORDS.search(text)
    if found:
        tally.add(MONEY, f"money or gambling words (\u201c{found[0].lower()}\u201d)")


def _script(tally: _Tally, form: Form, values: dict) -> None:
    text = _free_text(form, values)
    script = dominant_script(text)
    if script in (None, "LATIN"):
        return
    others = " ".join(str(values.get(n) or "") for n in ("name", "company", "email"))
    if script not in _scripts(others):
        shown = script if script == "CJK" else script.title()
        tally.add(OTHER_SCRIPT, f"the message is in {shown} script, unlike the name")


def _address(tally: _Tally, email) -> None:
    domain = str(email or "").rpartition("@")[2].lower()
    parts = domain.split(".")
    # A subdomain of a throwaway service is one too (x.mailinator.com).
    if any(".".join(parts[i:]) in DISPOSABLE_DOMAINS for i in range(len(parts) - 1)):
        tally.add(DISPOSABLE, f"a disposable email address ({domain})")


def _free_text(form: Form, values: dict) -> str:
    return "\n".join(str(values.get(f.name) or "") for f in form.fields if f.type == "textarea")


def _scripts(text: str) -> Counter:
    """How many letters of each script (LATIN, CYRILLIC, CJK…) the text has."""
    found = Counter()
    for char in text:
        if char.isalpha():
            name = unicodedata.name(char, "")
            found[name.split(" ")[0] if name else "UNKNOWN"] += 1
    return found


def dominant_script(text: str) -> str | None:
    """The script most of the text's letters are in, or None for text without letters."""
    counts = _scripts(text)
    return counts.most_common(1)[0][0] if counts else None


def body_hash(form: Form, values: dict) -> str | None:
    """A fingerprint of the free text, to spot one message sent by many.

    Case, spacing, links and numbers are left out: campaigns vary exactly
    those ("Offer code 480213", a tracking link per copy).
    """
    text = " ".join(NUMBERS.sub(" ", URL.sub(" ", _free_text(form, values))).lower().split())
    if len(text) < REPEAT_MIN_LENGTH:
        return None
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def time_on_form(value) -> int | None:
    """The milliseconds the site's script reported, or None when absent or not a number."""
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    return int(text) if text.isdigit() and len(text) <= 9 else None
