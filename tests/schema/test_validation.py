"""Validating a submission against its form: cleaned values, or a message the visitor understands."""
from datetime import date

import pytest

from capture.schema.forms import ATTRIBUTION_FIELDS, load_schema, parse_schema
from capture.schema.validation import clean_attribution, validate_submission
from tests.schema.test_forms import minimal

TODAY = date(2030, 6, 15)


@pytest.fixture(scope="module")
def consultation_form():
    return load_schema("forms.yml").forms["consultation"]


VALID = {"name": "Ada", "email": "ada@analytical.example.com", "meeting_kind": "video", "service": "starter",
         "budget": "under-2k", "preferred_date": "2030-06-20", "preferred_time": "09:00-12:00",
         "consent": "on"}


def test_a_valid_submission_is_cleaned(consultation_form):
    clean, errors = validate_submission(
        consultation_form, {**VALID, "website": " analytical.example.com ", "email": "Ada@Analytical.Example.COM",
                            "unknown": "dropped"}, TODAY)
    assert errors == {}
    assert clean["website"] == "https://analytical.example.com"
    assert clean["email"] == "Ada@analytical.example.com"
    assert clean["consent"] is True
    assert "unknown" not in clean and "phone" not in clean


@pytest.mark.parametrize("field, value, message", [
    ("name", "", "Please fill in “Your name”."),
    ("name", "   ", "Please fill in “Your name”."),
    ("name", "x" * 121, "under 120 characters (it has 121)"),
    ("name", "Ada\r\nBcc: x@y.com", "characters we cannot accept"),
    ("name", "Ada\x00", "characters we cannot accept"),
    ("name", ["Ada"], "Please enter text here."),
    ("email", "ada@", "valid email address"),
    ("email", "ada@localhost", "valid email address"),
    ("phone", "call me", "phone number"),
    ("phone", "12", "phone number"),
    ("website", "javascript:alert(1)", "web address"),
    ("website", "not a site", "web address"),
    ("service", "platinum", "choose one of the options"),
    ("service", "", "Please choose an option."),
    ("meeting_kind", "", "Please choose an option."),
    ("meeting_kind", "pigeon", "Please choose one of the options."),
    ("time_zone", "Mars/Olympus_Mons", "We do not know this time zone."),
    ("time_zone", "../../etc/passwd", "We do not know this time zone."),
    ("time_zone", "UTC+5", "We do not know this time zone."),
    ("time_zone", 5, "We do not know this time zone."),
    ("preferred_date", "20/06/2030", "YYYY-MM-DD"),
    ("preferred_date", "2030-06-14", "from today onwards"),
    ("preferred_date", "9999-12-31", "within the next 90 days"),
    ("preferred_date", "2030-09-14", "within the next 90 days"),
    ("preferred_date", "2030-W26-1", "YYYY-MM-DD"),
    ("preferred_date", "20300615", "YYYY-MM-DD"),
    ("preferred_date", "2030-06-15T10:00", "YYYY-MM-DD"),
    ("preferred_date", "2030-06-22", "Please choose a weekday (Monday to Friday)."),  # a Saturday
    ("preferred_date", "2030-06-23", "Please choose a weekday (Monday to Friday)."),  # a Sunday
    ("name", "Ada\u202eecalevoL", "characters we cannot accept"),
    ("name", "Ada\u2066x\u2069", "characters we cannot accept"),
    ("name", "Ada\x85Lovelace", "characters we cannot accept"),
    ("name", "Ada\x9bLovelace", "characters we cannot accept"),
    ("company", "\ud800", "characters we cannot accept"),
    ("message", "hello \ud83d", "characters we cannot accept"),
    ("message", "hello \x90", "characters we cannot accept"),
    ("website", "https://exa\tmple.com", "web address"),
    ("consent", "", "Please tick this box"),
    ("consent", "maybe", "tick or untick"),
    ("message", "x" * 5001, "under 5000 characters"),
])
def test_invalid_values_get_a_visitor_friendly_message(consultation_form, field, value, message):
    _, errors = validate_submission(consultation_form, {**VALID, field: value}, TODAY)
    assert list(errors) == [field]
    assert message in errors[field]


def test_a_phone_call_needs_a_number_and_a_video_call_does_not(consultation_form):
    clean, errors = validate_submission(consultation_form, {**VALID, "meeting_kind": "phone"}, TODAY)
    assert errors == {"phone": "We need a number to call you on."}
    clean, errors = validate_submission(consultation_form, {**VALID, "meeting_kind": "phone",
                                                            "phone": " +44 20 7946 0018 "}, TODAY)
    assert not errors and (clean["meeting_kind"], clean["phone"]) == ("phone", "+44 20 7946 0018")
    clean, errors = validate_submission(consultation_form, VALID, TODAY)
    assert not errors and clean["meeting_kind"] == "video" and "phone" not in clean
    # A number that is not one is said as such, not as missing.
    _, errors = validate_submission(consultation_form, {**VALID, "meeting_kind": "phone", "phone": "soon"}, TODAY)
    assert "phone number using digits" in errors["phone"]


def test_with_one_way_to_meet_the_choice_may_be_left_out():
    raw = minimal()
    raw["forms"]["contact"]["fields"] += [
        {"name": "how", "type": "radio", "required": True, "choices": ["phone"]},
        {"name": "phone", "type": "tel", "required_when": {"how": "phone"}, "required_message": "A number, please."}]
    form = parse_schema(raw).forms["contact"]
    assert validate_submission(form, {"email": "a@b.example"}, TODAY) == ({"email": "a@b.example", "how": "phone"},
                                                                         {"phone": "A number, please."})
    assert validate_submission(form, {"email": "a@b.example", "how": "video"}, TODAY)[1] == {
        "how": "Please choose one of the options."}


@pytest.mark.parametrize("raw, kept", [("America/New_York", "America/New_York"), (" Asia/Kolkata ", "Asia/Kolkata"),
                                       ("", None), (None, None)])
def test_the_visitors_time_zone_is_kept_when_known_and_empty_means_the_studios(consultation_form, raw, kept):
    clean, errors = validate_submission(consultation_form, {**VALID, "time_zone": raw}, TODAY)
    assert not errors and clean.get("time_zone") == kept


def test_textarea_keeps_line_breaks(consultation_form):
    clean, errors = validate_submission(consultation_form, {**VALID, "message": "one\r\ntwo"}, TODAY)
    assert not errors and clean["message"] == "one\r\ntwo"


@pytest.mark.parametrize("raw, expected", [(True, True), ("true", True), ("1", True), (False, False)])
def test_json_booleans_work_for_checkboxes(consultation_form, raw, expected):
    clean, errors = validate_submission(consultation_form, {**VALID, "consent": raw}, TODAY)
    assert clean.get("consent", False) is expected
    assert bool(errors) is (not expected)


def test_time_fields_accept_hh_mm():
    form = parse_schema(minimal(name="at", type="time", label="At")).forms["contact"]
    assert validate_submission(form, {"at": "14:30"}, TODAY)[0] == {"at": "14:30"}
    assert "HH:MM" in validate_submission(form, {"at": "25:00"}, TODAY)[1]["at"]


def test_attribution_is_trimmed_and_unknown_keys_dropped():
    raw = {key: f" {key} " for key in ATTRIBUTION_FIELDS}
    raw.update(page_url="https://x.example/a\r\nb" + "y" * 3000, password="secret", first_utm_term=["list"])
    cleaned = clean_attribution(raw)
    assert "password" not in cleaned and "first_utm_term" not in cleaned
    assert cleaned["first_utm_source"] == "first_utm_source"
    assert "\n" not in cleaned["page_url"] and len(cleaned["page_url"]) == 2000


def test_weekdays_only_holds_on_the_server_as_the_copy_says(consultation_form):
    # forms.yml's preferred_date says "Weekdays only": a browser without the script cannot stop a
    # Saturday, so the server refuses it; Monday and Friday are fine.
    assert consultation_form.field("preferred_date").weekdays_only
    for monday_to_friday in ("2030-06-17", "2030-06-21"):
        _, errors = validate_submission(consultation_form, {**VALID, "preferred_date": monday_to_friday}, TODAY)
        assert errors == {}


def test_a_date_at_the_horizon_is_accepted_and_stored_normalised(consultation_form):
    clean, errors = validate_submission(consultation_form, {**VALID, "preferred_date": "2030-09-13"}, TODAY)
    assert not errors and clean["preferred_date"] == "2030-09-13"


def test_zero_width_characters_are_removed_from_single_line_fields(consultation_form):
    clean, errors = validate_submission(
        consultation_form, {**VALID, "name": "A\u200bda\ufeff Love\u2060lace", "company": "Tab\tCo"}, TODAY)
    assert not errors
    assert clean["name"] == "Ada Lovelace" and clean["company"] == "Tab Co"


def test_joiners_that_scripts_need_are_kept(consultation_form):
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # 'mi-khaham', with a ZWNJ
    clean, errors = validate_submission(consultation_form, {**VALID, "name": persian}, TODAY)
    assert not errors and clean["name"] == persian


def test_attribution_drops_controls_bidi_and_surrogates():
    found = clean_attribution({"page_url": "https://x.example/\u202e/a\tb\ud800\x85c"})
    assert found == {"page_url": "https://x.example//a b c"}
