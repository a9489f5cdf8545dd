"""A team email on a phone: the sales notification and the reassignment mail, opened in chromium
at 390 px wide, fit the screen, keep the consent line readable (its label above its answer, not
squeezed into a narrow column) and show the main button first and in full."""
from __future__ import annotations

from datetime import datetime, timezone
from email import message_from_bytes, policy
from zoneinfo import ZoneInfo

import pytest

from capture.core.paths import TEMPLATES
from capture.delivery import mail
from capture.pipeline import lead_view, notices
from capture.schema.forms import ATTRIBUTION_FIELDS, load_schema
from e2e_stack import ROOT

PHONE = {"width": 390, "height": 844}
VALUES = {"name": "Ada Lovelace", "email": "ada@analytical.example.com", "meeting_kind": "phone",
          "phone": "+44 20 7946 0018", "company": "Analytical Engines Ltd",
          "website": "https://analytical.example.com/a/rather/long/path/that/must/wrap/somewhere",
          "service": "ecommerce", "budget": "5k-10k", "preferred_date": "2026-12-08",
          "preferred_time": "14:00-17:30", "message": "We sell brass gears online. " * 8, "consent": True}


def html_of(kind: str) -> str:
    """The HTML part of a `kind` email about a requested consultation, parsed back from the wire."""
    form = load_schema(ROOT / "forms.yml").forms["consultation"]
    lead = {"id": "LeadId0123456789abcd", "form_id": "consultation", "spam": False, "status": "new",
            "received_at": datetime(2026, 12, 4, 9, 12, tzinfo=timezone.utc), "email": VALUES["email"],
            "name": VALUES["name"], "consent_version": "2026-11-27", "data": VALUES,
            **{k: None for k in ATTRIBUTION_FIELDS},
            "landing_page": "https://www.fernleaf.example/blog/a-long-post-about-fast-shops/?utm_source=news"}
    job = {"kind": kind, "recipient": "maya@fernleaf.example", "lead_id": lead["id"],
           "message_id": "<lead.x.0@fernleaf.example>"}
    extra = {"by": "Tom Reid", "waiting": True, "waited": "2 working hours", "promise": "1 working hour"}
    msg = notices.compose(mail.environment(TEMPLATES / "email"), job, lead, form, history=lead_view.History(),
                          mail_from="Fernleaf Studio leads <leads@fernleaf.example>",
                          tz=ZoneInfo("Europe/London"), domain="fernleaf.example",
                          links=[{"label": "Book the time they asked for", "url": "https://x.example/actions/a"},
                                 {"label": "Mark as contacted", "url": "https://x.example/actions/b"}],
                          extra=extra, slot_length=None)
    parsed = message_from_bytes(msg.as_bytes(policy=policy.SMTP), policy=policy.default)
    return parsed.get_body(("html",)).get_content()


@pytest.mark.parametrize("kind", ["notify_sales", "lead_reassigned"])
def test_a_team_email_reads_well_on_a_390_px_phone(browser, kind):
    context = browser.new_context(viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.set_content(html_of(kind))
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        label = page.locator("td", has_text="I agree that Fernleaf Studio stores").last
        answer = page.locator("td", has_text="Yes (privacy policy version 2026-11-27)").last
        label_box, answer_box = label.bounding_box(), answer.bounding_box()
        assert label_box["width"] >= 300, label_box  # the whole width of the card, not a 38% column
        assert answer_box["y"] >= label_box["y"] + label_box["height"] - 1  # stacked: the answer below
        assert label_box["x"] + label_box["width"] <= PHONE["width"]
        main = page.get_by_role("link", name="Book the time they asked for")
        box = main.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] and box["height"] >= 40
        texts = page.evaluate("[...document.querySelectorAll('a')].map(a => a.textContent.trim())")
        assert texts.index("Book the time they asked for") < texts.index("Mark as contacted")  # main first
    finally:
        context.close()
