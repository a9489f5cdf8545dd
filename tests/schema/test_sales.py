"""The sales settings: loading sales.yml, its errors, the team and the calendar it builds."""
import copy
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml

from capture.schema.checks import duration
from capture.schema.consultation import MEETING_DETAILS, Consultation, Meeting
from capture.schema.sales import SalesError, load_sales, parse_sales

LONDON = ZoneInfo("Europe/London")
FORMS = ("consultation", "contact")
DELETE = object()


def real_raw() -> dict:
    """The repository's sales.yml as data, to vary one key at a time."""
    with open("sales.yml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def changed(raw: dict, dotted: str, value) -> dict:
    """A deep copy of `raw` with one key (path like 'team.0.email') set or deleted."""
    raw = copy.deepcopy(raw)
    *parents, last = dotted.split(".")
    here = raw
    for key in parents:
        here = here[int(key)] if isinstance(here, list) else here[key]
    if isinstance(here, list):
        here[int(last)] = value
    elif value is DELETE:
        del here[last]
    else:
        here[last] = value
    return raw


@pytest.fixture()
def sales():
    return load_sales("sales.yml", LONDON, FORMS)


def test_the_real_sales_file_loads(sales):
    assert [m.name for m in sales.team] == ["Maya Patel", "Tom Reid", "Priya Shah"]
    assert sales.hours_text == "Monday to Friday, 9:00–17:30"
    assert sales.response.first_contact == timedelta(hours=1)
    assert sales.response.remind_after == timedelta(minutes=30)
    assert sales.response.escalate_after == timedelta(hours=1)
    assert sales.owners["consultation"].strategy == "round_robin"
    assert sales.owners["consultation"].members == ("maya@fernleaf.example", "tom@fernleaf.example")
    assert sales.owners["contact"].strategy == "first_notified"
    assert sales.lost_reasons == ("price", "timing", "went_elsewhere", "no_reply", "not_a_fit", "other")
    assert sales.currency == "GBP" and sales.source == "sales.yml"


def test_the_calendar_closes_on_english_bank_holidays(sales):
    boxing_day_observed = datetime(2026, 12, 28, 10, tzinfo=LONDON)
    assert not sales.calendar.is_open(boxing_day_observed)
    assert sales.calendar.is_open(datetime(2026, 12, 29, 10, tzinfo=LONDON))
    assert sales.calendar.add(datetime(2027, 3, 25, 17, 20, tzinfo=LONDON), timedelta(hours=1)) == \
        datetime(2027, 3, 30, 9, 50, tzinfo=LONDON)


def test_extra_closed_dates_close_the_calendar(tmp_path):
    path = tmp_path / "sales.yml"
    # Unquoted, YAML reads it as a date; quoted, as text: both work.
    path.write_text(open("sales.yml", encoding="utf-8").read().replace(
        "closed: []", "closed: [2026-11-16, '2026-11-17']"))
    calendar = load_sales(path, LONDON, FORMS).calendar
    assert calendar.next_open(datetime(2026, 11, 14, tzinfo=LONDON)) == \
        datetime(2026, 11, 18, 9, tzinfo=LONDON)


def test_member_lookup_ignores_case(sales):
    assert sales.member("Tom@Fernleaf.EXAMPLE").name == "Tom Reid"
    assert sales.member(" maya@fernleaf.example ").email == "maya@fernleaf.example"
    assert sales.member("nobody@fernleaf.example") is None


def test_team_emails_are_stored_lower_case():
    raw = changed(real_raw(), "team.1.email", "Tom.Reid@Fernleaf.Example")
    raw["owners"]["consultation"]["members"][1] = "TOM.REID@fernleaf.example"
    sales = parse_sales(raw, LONDON, FORMS)
    assert sales.team[1].email == "tom.reid@fernleaf.example"
    assert sales.owners["consultation"].members[1] == "tom.reid@fernleaf.example"


def test_members_by_role(sales):
    names = {role: [m.name for m in sales.with_role(role)]
             for role in ("sales", "manager", "host", "marketing")}
    assert names == {"sales": ["Maya Patel", "Tom Reid"], "manager": ["Maya Patel"],
                     "host": ["Maya Patel", "Tom Reid"], "marketing": ["Priya Shah"]}
    assert sales.team[2].roles == frozenset({"marketing"})
    with pytest.raises(ValueError, match="unknown role 'seller'"):
        sales.with_role("seller")


def test_the_fallback_owner_is_the_first_manager_else_the_first_seller(sales):
    assert sales.fallback_owner == "maya@fernleaf.example"
    raw = changed(real_raw(), "team.0.roles", ["sales"])
    raw["team"].reverse()
    assert parse_sales(raw, LONDON, FORMS).fallback_owner == "tom@fernleaf.example"
    raw["team"][0]["roles"] = ["manager"]  # Priya, first in the list now
    assert parse_sales(raw, LONDON, FORMS).fallback_owner == "priya@fernleaf.example"


def test_forms_not_listed_get_first_notified(sales):
    raw = changed(real_raw(), "owners", DELETE)
    bare = parse_sales(raw, LONDON, FORMS)
    assert {fid: rule.strategy for fid, rule in bare.owners.items()} == {
        "consultation": "first_notified", "contact": "first_notified"}
    assert sales.owner_rule("newsletter").strategy == "first_notified"


def test_escalation_defaults_to_the_first_contact_promise():
    raw = changed(real_raw(), "response.contact.escalate_after", DELETE)
    raw["response"]["contact"]["first_contact"] = "10h"
    assert parse_sales(raw, LONDON, FORMS).promise("contact").escalate_after == timedelta(hours=10)


@pytest.mark.parametrize("section", [DELETE, None, {}])
def test_without_a_response_section_the_documented_promise_applies(section):
    """No `response:` (or an empty one): 60m first contact, a 30m reminder, escalation at 60m."""
    response = parse_sales(changed(real_raw(), "response", section), LONDON, FORMS).response
    assert (response.first_contact, response.remind_after, response.escalate_after) == (
        timedelta(minutes=60), timedelta(minutes=30), timedelta(minutes=60))


def test_each_form_has_its_own_promise_and_the_others_the_default(sales):
    consultation, contact = sales.promise("consultation"), sales.promise("contact")
    assert (consultation.first_contact, consultation.remind_after, consultation.escalate_after) == (
        timedelta(hours=1), timedelta(minutes=30), timedelta(hours=1))
    assert (contact.first_contact, contact.remind_after, contact.escalate_after) == (
        timedelta(hours=8.5), timedelta(hours=4), timedelta(hours=8.5))
    assert sales.promise("newsletter") == sales.promise(None) == sales.response  # no block: the default


def test_a_single_response_block_still_promises_the_same_to_every_form():
    """The older sales.yml: one block, no form ids, for every form."""
    raw = changed(real_raw(), "response", {"first_contact": "2h", "remind_after": "1h"})
    sales = parse_sales(raw, LONDON, FORMS)
    assert sales.promise("contact") == sales.promise("consultation") == sales.response
    assert (sales.response.first_contact, sales.response.remind_after, sales.response.escalate_after) == (
        timedelta(hours=2), timedelta(hours=1), timedelta(hours=2))


def test_a_forms_block_is_read_on_its_own_and_the_keys_beside_it_are_the_default():
    raw = changed(real_raw(), "response", {"first_contact": "3h", "contact": {"first_contact": "8.5h"}})
    sales = parse_sales(raw, LONDON, FORMS)
    assert sales.promise("consultation").first_contact == timedelta(hours=3)
    # Not inherited: the contact block's own defaults (30m reminder, escalation at its first contact).
    assert (sales.promise("contact").remind_after, sales.promise("contact").escalate_after) == (
        timedelta(minutes=30), timedelta(hours=8.5))


@pytest.mark.parametrize("section, message", [
    (["60m"], "response: expected a mapping with first_contact, remind_after, escalate_after"),
    ({"first_contact": "1h", "soon": "2h"}, "response.soon: unknown key (use first_contact, remind_after, "
                                            "escalate_after)"),
    ({"contact": {"first_contact": "never"}}, "response.contact.first_contact: 'never' is not a duration"),
])
def test_without_the_form_ids_a_bad_promise_is_still_one_line(section, message):
    with pytest.raises(SalesError, match=f"^sales.yml: {re.escape(message)}"):
        parse_sales(changed(real_raw(), "response", section), LONDON)


def test_without_the_form_ids_a_forms_block_is_still_its_own():
    sales = parse_sales(real_raw(), LONDON)
    assert sales.promise("contact").first_contact == timedelta(hours=8.5)


def test_a_bad_promise_is_one_line_naming_the_file_and_the_form(tmp_path):
    path = tmp_path / "sales.yml"
    path.write_text(yaml.safe_dump(changed(real_raw(), "response.contact.escalate_after", "tomorrow")))
    with pytest.raises(SalesError) as raised:
        load_sales(path, LONDON, FORMS)
    assert str(raised.value) == (f"{path}: response.contact.escalate_after: 'tomorrow' is not a duration "
                                 "like 30m, 1h or 2d (s, m, h or d)")
    assert "\n" not in str(raised.value)


def test_without_remind_after_the_owner_is_nudged_after_30_minutes():
    raw = changed(real_raw(), "response", {"first_contact": "2h"})
    response = parse_sales(raw, LONDON, FORMS).response
    assert response.remind_after == timedelta(minutes=30)
    assert response.escalate_after == response.first_contact == timedelta(hours=2)


def test_the_default_reminder_never_comes_after_the_escalation():
    raw = changed(real_raw(), "response", {"first_contact": "20m"})
    response = parse_sales(raw, LONDON, FORMS).response
    assert response.remind_after == response.escalate_after == timedelta(minutes=20)


def test_hours_text_follows_the_hours():
    raw = changed(real_raw(), "hours", {"mon-thu": ["09:00-12:30", "13:30-17:30"], "fri": "09:00-15:00"})
    assert parse_sales(raw, LONDON, FORMS).hours_text == \
        "Monday to Thursday, 9:00–12:30 and 13:30–17:30; Friday, 9:00–15:00"


@pytest.mark.parametrize("key, value, message", [
    ("colour", "green", "colour: unknown key (use team, hours"),
    ("team", DELETE, "team: is missing or empty"),
    ("team", "maya@fernleaf.example", "team: expected a list of members"),
    ("team.0.email", "not-an-address", "team[0].email: 'not-an-address' is not an email address"),
    ("team.1.email", "MAYA@fernleaf.example", "team[1].email: 'maya@fernleaf.example' is listed twice"),
    ("team.2.roles", ["marketing", "ceo"], "team[2].roles: unknown role 'ceo'"),
    ("team.2.nickname", "P", "team[2].nickname: unknown key"),
    ("team.2.name", DELETE, "team[2].name: is missing or empty"),
    ("team", [{"name": "Priya", "email": "priya@fernleaf.example", "roles": ["marketing"]}],
     "team: needs at least one member with the role sales or manager"),
    ("hours.sat-tue", "09:00-12:00", "hours.sat-tue: a day range runs forward"),
    ("hours.mon-fri", "9am-5pm", "hours.mon-fri: '9am-5pm' is not HH:MM-HH:MM"),
    ("hours", DELETE, "hours: is missing or empty"),
    ("holidays.calendar", "XX", "holidays.calendar: 'XX' is not a known holiday calendar"),
    ("holidays.calendar", "GB-XYZ", "holidays.calendar: 'GB-XYZ' is not a known holiday calendar"),
    ("holidays.closed", ["2026-02-30"], "holidays.closed[0]: '2026-02-30' is not a date"),
    ("holidays.closed", "2026-12-24", "holidays.closed: expected a list of dates"),
    ("holidays.open", [], "holidays.open: unknown key"),
    ("response.first_contact", "soon", "response.first_contact: 'soon' is not a duration"),
    ("response.first_contact", "0m", "response.first_contact: must be longer than zero"),
    ("response.remind_after", 30, "response.remind_after: '30' is not a duration"),
    ("response.remind_after", "-5m", "response.remind_after: '-5m' is not a duration"),
    ("response.remind_after", "2h", "response.remind_after: must not be later than escalate_after"),
    ("response", {"first_contact": "20m", "remind_after": "30m"},
     "response.remind_after: must not be later than escalate_after (which defaults to first_contact)"),
    ("response", ["60m"], "response: expected a mapping"),
    ("response.remind_afer", "10m", "response.remind_afer: unknown key"),
    ("response.contact.first_contact", "a day", "response.contact.first_contact: 'a day' is not a duration"),
    ("response.contact.remind_after", "9h", "response.contact.remind_after: must not be later than escalate_after"),
    ("response.contact.first_contect", "1h", "response.contact.first_contect: unknown key (use first_contact, "),
    ("response.contact", "8.5h", "response.contact: expected a mapping with first_contact, remind_after"),
    ("response.newsletter", {"first_contact": "1h"},
     "response.newsletter: unknown key (use first_contact, remind_after, escalate_after, consultation, contact)"),
    ("owners.consultation.strategy", "random", "owners.consultation.strategy: unknown strategy 'random'"),
    ("owners.consultation.members", ["priya@fernleaf.example"],
     "owners.consultation.members[0]: 'priya@fernleaf.example' needs the role sales or manager"),
    ("owners.consultation.members", ["zoe@fernleaf.example"],
     "owners.consultation.members[0]: 'zoe@fernleaf.example' is not in the team"),
    ("owners.consultation.members", ["tom@fernleaf.example", "Tom@fernleaf.example"],
     "owners.consultation.members: a member is listed twice"),
    ("owners.consultation.members", [], "owners.consultation.members: round_robin needs a list"),
    ("owners.contact", {"strategy": "first_notified", "members": ["tom@fernleaf.example"]},
     "owners.contact.members: only round_robin takes members"),
    ("owners.newsletter", "first_notified", "owners.newsletter: there is no form 'newsletter'"),
    ("pipeline.lost_reasons", ["price", "timing"], "pipeline.lost_reasons: must include 'other'"),
    ("pipeline.lost_reasons", ["Price", "other"], "pipeline.lost_reasons: 'Price' must be lower-case"),
    ("pipeline.lost_reasons", ["other", "other"], "pipeline.lost_reasons: a reason is listed twice"),
    ("pipeline.currency", "pounds", "pipeline.currency: 'pounds' is not an ISO 4217 code"),
    ("pipeline.currency", DELETE, "pipeline.currency: is missing or empty"),
    ("pipeline.stages", ["open"], "pipeline.stages: unknown key"),
    ("consultation", "yes", "consultation: expected a mapping with hosts, length"),
    ("consultation.colour", "green", "consultation.colour: unknown key (use hosts, length"),
    ("consultation.hosts", ["zoe@fernleaf.example"],
     "consultation.hosts[0]: 'zoe@fernleaf.example' is not in the team"),
    ("consultation.hosts", ["tom@fernleaf.example", "not-an-address"],
     "consultation.hosts[1]: 'not-an-address' is not an email address"),
    ("consultation.hosts", ["priya@fernleaf.example"],
     "consultation.hosts[0]: 'priya@fernleaf.example' needs the role sales or manager"),
    ("consultation.hosts", ["tom@fernleaf.example", "Tom@fernleaf.example"],
     "consultation.hosts: a host is listed twice"),
    ("consultation.hosts", [], "consultation.hosts: expected a list of team members' emails"),
    ("consultation.hosts", "tom@fernleaf.example", "consultation.hosts: expected a list"),
    ("consultation.length", "half an hour", "consultation.length: 'half an hour' is not a duration"),
    ("consultation.length", "0m", "consultation.length: must be longer than zero"),
    ("consultation.length", "90s", "consultation.length: '90s' must be whole minutes"),
    ("consultation.length", "9h", "consultation.length: 540 minutes is longer than every working span"),
    ("consultation.step", "0m", "consultation.step: must be longer than zero"),
    ("consultation.step", "30s", "consultation.step: '30s' must be whole minutes"),
    ("consultation.buffer", "-5m", "consultation.buffer: '-5m' is not a duration"),
    ("consultation.buffer", "15", "consultation.buffer: '15' is not a duration"),
    ("consultation.min_notice", "soon", "consultation.min_notice: 'soon' is not a duration"),
    ("consultation.horizon_days", 0, "consultation.horizon_days: '0' is not a whole number of days from 1 to 365"),
    ("consultation.horizon_days", 400, "consultation.horizon_days: '400' is not a whole number"),
    ("consultation.horizon_days", "21", "consultation.horizon_days: '21' is not a whole number"),
    ("consultation.horizon_days", True, "consultation.horizon_days: 'True' is not a whole number"),
    ("consultation.meeting", "phone", "consultation.meeting: expected a mapping with kinds, kind, video_url, details"),
    ("consultation.meeting", {"kind": "pigeon"}, "consultation.meeting.kind: unknown kind 'pigeon' (use phone, video)"),
    ("consultation.meeting", {"kind": "video"}, "consultation.meeting.video_url: kind video needs a video_url"),
    ("consultation.meeting.kinds", ["phone", "pigeon"],
     "consultation.meeting.kinds: unknown kind 'pigeon' (use phone, video)"),
    ("consultation.meeting.kinds", [], "consultation.meeting.kinds: expected a list of phone, video"),
    ("consultation.meeting.kinds", "phone", "consultation.meeting.kinds: expected a list of phone, video"),
    ("consultation.meeting.kinds", ["video", "video"], "consultation.meeting.kinds: 'video' is listed twice"),
    ("consultation.meeting.kind", "phone", "consultation.meeting: give kind or kinds, not both"),
    ("consultation.meeting", {"kinds": ["video"]}, "consultation.meeting.video_url: kind video needs a video_url"),
    ("consultation.meeting", {"kinds": ["phone"], "video_url": "https://meet.example/fernleaf"},
     "consultation.meeting.video_url: only kind video takes a video_url"),
    ("consultation.meeting.details", {"phone": "Ring", "fax": "Beep"},
     "consultation.meeting.details.fax: unknown key (use video, phone)"),
    ("consultation.meeting.details", {"video": ""},
     "consultation.meeting.details.video: expected a short text"),
    ("consultation.meeting", {"kind": "video", "video_url": "http://meet.example/fernleaf"},
     "consultation.meeting.video_url: 'http://meet.example/fernleaf' is not an https:// link"),
    ("consultation.meeting", {"kind": "video", "video_url": "https://"},
     "consultation.meeting.video_url: 'https://' is not an https:// link"),
    ("consultation.meeting", {"kind": "video", "video_url": "https://meet.example/a b"},
     "consultation.meeting.video_url: 'https://meet.example/a b' is not an https:// link"),
    ("consultation.meeting.details", "", "consultation.meeting.details: expected a short text"),
    ("consultation.meeting.details", ["call"], "consultation.meeting.details: expected a short text"),
    ("consultation.meeting.details", "x" * 301, "consultation.meeting.details: longer than 300 characters"),
    ("consultation.meeting.room", "Blue", "consultation.meeting.room: unknown key"),
])
def test_each_mistake_is_one_line_naming_the_file_and_key(tmp_path, key, value, message):
    path = tmp_path / "sales.yml"
    path.write_text(yaml.safe_dump(changed(real_raw(), key, value)), encoding="utf-8")
    with pytest.raises(SalesError) as caught:
        load_sales(path, LONDON, FORMS)
    assert str(caught.value).startswith(f"{path}: {message}")
    assert "\n" not in str(caught.value)


def test_the_consultation_section_of_the_real_file(sales):
    assert sales.consultation == Consultation(
        hosts=("maya@fernleaf.example", "tom@fernleaf.example"), length=timedelta(minutes=30),
        buffer=timedelta(minutes=15), min_notice=timedelta(hours=2), horizon_days=21,
        step=timedelta(minutes=30),
        meeting=Meeting(kinds=("video", "phone"), video_url="https://meet.fernleaf.example/consultation",
                        details={"phone": "Please have your phone to hand at the time booked.",
                                 "video": "Open the link a minute early to check your camera and sound."}))


@pytest.mark.parametrize("section", [None, {}])
def test_an_empty_consultation_section_means_every_default(section):
    consultation = parse_sales(changed(real_raw(), "consultation", section), LONDON, FORMS).consultation
    assert consultation == Consultation(
        hosts=("maya@fernleaf.example", "tom@fernleaf.example"), length=timedelta(minutes=30),
        buffer=timedelta(0), min_notice=timedelta(hours=2), horizon_days=21,
        step=timedelta(minutes=30),
        meeting=Meeting(kinds=("phone",), details={"phone": MEETING_DETAILS["phone"]}))


def test_without_a_consultation_section_there_is_no_booking():
    assert parse_sales(changed(real_raw(), "consultation", DELETE), LONDON, FORMS).consultation is None


def test_listed_hosts_keep_their_order_and_need_not_have_the_role():
    raw = changed(real_raw(), "team.1.roles", ["sales"])
    raw["consultation"].update(hosts=["TOM@fernleaf.example", "maya@fernleaf.example"],
                               length="45m", step="1h", buffer="0m", min_notice="0m")
    consultation = parse_sales(raw, LONDON, FORMS).consultation
    assert consultation.hosts == ("tom@fernleaf.example", "maya@fernleaf.example")
    assert (consultation.length, consultation.step) == (timedelta(minutes=45), timedelta(hours=1))
    assert consultation.buffer == consultation.min_notice == timedelta(0)


def test_the_step_defaults_to_the_length():
    raw = changed(real_raw(), "consultation.length", "1h")
    assert parse_sales(raw, LONDON, FORMS).consultation.step == timedelta(hours=1)


def test_a_video_meeting_has_an_https_link_and_default_details():
    raw = changed(real_raw(), "consultation.meeting", {"kind": "video", "video_url": " https://meet.example/fernleaf "})
    meeting = parse_sales(raw, LONDON, FORMS).consultation.meeting
    assert meeting == Meeting(kinds=("video",), video_url="https://meet.example/fernleaf",
                              details={"video": MEETING_DETAILS["video"]})
    assert meeting.kind == "video"  # the older single kind is a list of one
    raw = changed(real_raw(), "consultation.meeting.details", "  Ring us on\n 020 7946 0000.  ")
    details = parse_sales(raw, LONDON, FORMS).consultation.meeting.details
    assert details == {"phone": "Ring us on 020 7946 0000.", "video": "Ring us on 020 7946 0000."}


def test_both_kinds_offered_phone_first_and_details_by_kind_default_when_left_out():
    raw = changed(real_raw(), "consultation.meeting", {"kinds": ["video", "phone"],
                                                       "video_url": "https://meet.example/x",
                                                       "details": {"video": "Camera on, please."}})
    meeting = parse_sales(raw, LONDON, FORMS).consultation.meeting
    assert meeting.kinds == ("video", "phone") and meeting.kind == "video"
    assert meeting.details == {"video": "Camera on, please.", "phone": MEETING_DETAILS["phone"]}


@pytest.mark.parametrize("roles, message", [
    ({0: ["sales", "manager"], 1: ["sales"]}, "consultation.hosts: nobody has the role host"),
    ({2: ["marketing", "host"]}, "consultation.hosts: 'priya@fernleaf.example' needs the role sales or manager"),
])
def test_default_hosts_come_from_the_role_and_must_be_able_to_own_leads(roles, message):
    raw = real_raw()
    for i, value in roles.items():
        raw["team"][i]["roles"] = value
    with pytest.raises(SalesError, match=f"^sales\\.yml: {message}"):
        parse_sales(raw, LONDON, FORMS)


def test_parse_sales_names_its_source():
    with pytest.raises(SalesError, match=r"^sales\.yml: hours: expected a mapping"):
        parse_sales(changed(real_raw(), "hours", ["mon-fri"]), LONDON, FORMS)


def test_bad_files_say_what_is_wrong(tmp_path):
    with pytest.raises(SalesError, match="missing.yml: cannot read the sales settings"):
        load_sales(tmp_path / "missing.yml", LONDON)
    broken = tmp_path / "broken.yml"
    broken.write_text("team: [\n")
    with pytest.raises(SalesError, match="broken.yml: not valid YAML .*line"):
        load_sales(broken, LONDON)
    empty = tmp_path / "empty.yml"
    empty.write_text("")
    with pytest.raises(SalesError, match="empty.yml: expected a mapping with team, hours"):
        load_sales(empty, LONDON)


def test_without_known_forms_any_owner_key_is_accepted():
    raw = changed(real_raw(), "owners.newsletter", "first_notified")
    assert parse_sales(raw, LONDON).owners["newsletter"].strategy == "first_notified"


@pytest.mark.parametrize("value, expected", [
    ("45s", timedelta(seconds=45)), ("30m", timedelta(minutes=30)), ("60m", timedelta(hours=1)),
    ("1h", timedelta(hours=1)), ("2d", timedelta(hours=48)), (" 90 m ", timedelta(minutes=90)),
    # The one grammar of core.durations: fractions, milliseconds and capitals, as in the settings.
    ("1.5h", timedelta(minutes=90)), ("250ms", timedelta(milliseconds=250)), ("2H", timedelta(hours=2)),
])
def test_durations(value, expected):
    assert duration(value, "response.first_contact") == expected


@pytest.mark.parametrize("value", ["", "0s", "15", "1w", "h", "-1h", "1h30m", "1.h", 60, None, True])
def test_bad_durations_name_the_key(value):
    with pytest.raises(ValueError, match=r"^response\.first_contact: "):
        duration(value, "response.first_contact")


def test_zero_is_a_duration_only_where_allowed():
    assert duration("0m", "consultation.buffer", allow_zero=True) == timedelta(0)
    with pytest.raises(ValueError, match="must be longer than zero"):
        duration("0m", "consultation.length")


def test_holidays_work_in_another_country():
    raw = changed(real_raw(), "holidays.calendar", "DE-BY")
    calendar = parse_sales(raw, ZoneInfo("Europe/Berlin"), FORMS).calendar
    epiphany = datetime(2027, 1, 6, 10, tzinfo=ZoneInfo("Europe/Berlin"))  # Bavaria only
    assert not calendar.is_open(epiphany)
    assert date(2027, 1, 6).weekday() == 2


# --- the site says what sales.yml says -------------------------------------------------

def _site_text() -> dict[str, str]:
    """What visitors read: mkdocs.yml, forms.yml, the pages, the site's templates and their emails."""
    from tests.conftest import ROOT
    texts = {"mkdocs.yml": (ROOT / "mkdocs.yml").read_text(encoding="utf-8"),
             "forms.yml": (ROOT / "forms.yml").read_text(encoding="utf-8")}
    found = [*(ROOT / "docs").rglob("*.md"), *(ROOT / "templates" / "site").rglob("*.html"),
             *(ROOT / "templates" / "email").glob("*.txt"), *(ROOT / "templates" / "email").glob("*.html")]
    texts.update({str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in found})
    return texts


# Where each form's promise is written for its visitors besides its intro in forms.yml: the
# form's page and its thank-you page. Every form is listed, so a new one needs its pages here.
FORM_PAGES = {"consultation": ("docs/consultation.md", "docs/thank-you/consultation.md"),
              "contact": ("docs/contact.md", "docs/thank-you/contact.md")}
PROMISE = re.compile(r"within (\w+ working (?:minute|hour|day)s?)")


def _promises(text: str) -> list[str]:
    """The reply promises a text makes ('one working hour'); a proposal's own deadline is no reply."""
    return [m.group(1) for m in PROMISE.finditer(text) if "proposal" not in text[max(0, m.start() - 40):m.start()]]


def test_each_forms_pages_promise_what_sales_yml_promises_that_form(sales):
    """One source, per form: its intro and pages say sales.yml's `response` for it, in its words."""
    texts = _site_text()
    forms = yaml.safe_load(texts["forms.yml"])["forms"]
    assert set(FORM_PAGES) == set(forms), "every form's pages are checked"
    for form_id, pages in FORM_PAGES.items():
        words = sales.promise_words(form_id)
        stated = [p for page in pages for p in _promises(texts[page])] + _promises(forms[form_id]["intro"])
        assert stated and set(stated) == {words}, (form_id, words, stated)
    # mkdocs.yml's response_time is the consultation's: the consultation pages and the home
    # page's invitation to book one show it.
    response_time = re.search(r"^\s+response_time: (.+)$", texts["mkdocs.yml"], re.M).group(1).strip()
    assert response_time == f"within {sales.promise_words('consultation')}"
    assert "biz.response_time" in texts["templates/site/home.html"]
    # Anywhere else (blog posts, emails to visitors): no reply promise that no form makes.
    made = {sales.promise_words(form_id) for form_id in forms}
    assert made == {"one working hour", "one working day"}
    for name, text in texts.items():
        assert set(_promises(text)) <= made, name


@pytest.mark.parametrize("first_contact, words", [
    ("60m", "one working hour"), ("2h", "two working hours"), ("8.5h", "one working day"),
    ("17h", "two working days"), ("90m", "90 working minutes"), ("30m", "30 working minutes")])
def test_a_promise_is_worded_in_working_days_hours_or_minutes(first_contact, words):
    raw = changed(real_raw(), "response.contact", {"first_contact": first_contact})
    assert parse_sales(raw, LONDON, FORMS).promise_words("contact") == words


def test_the_site_states_the_hours_sales_yml_keeps(sales):
    """One source: every place the site states the hours agrees with sales.yml."""
    texts = _site_text()
    hours = re.search(r"^\s+hours: (.+)$", texts["mkdocs.yml"], re.M).group(1).strip()
    assert hours.replace(" – ", "–") == sales.hours_text
    opening = re.search(r"^\s+opening_hours: (.+)$", texts["mkdocs.yml"], re.M).group(1).strip()
    assert opening == "Mo-Fr 09:00-17:30" and sales.hours_text == "Monday to Friday, 9:00–17:30"
    for name, text in texts.items():  # written out by hand anywhere: the same hours
        for found in re.findall(r"Monday to Friday, \d{1,2}:\d{2} – \d{1,2}:\d{2}", text):
            assert found.replace(" – ", "–") == sales.hours_text, name
