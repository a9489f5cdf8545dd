"""The form schema: loading forms.yml, its errors, and validating submissions."""
from datetime import date

import pytest
import yaml

from capture.schema.forms import ATTRIBUTION_FIELDS, SchemaError, load_schema, parse_schema
from capture.schema.validation import clean_attribution, validate_submission

TODAY = date(2030, 6, 15)


def minimal(**field_overrides) -> dict:
    """A one-form schema whose single field can be varied."""
    field = {"name": "email", "label": "Email", "type": "email", **field_overrides}
    return {"forms": {"contact": {"thank_you": "/thanks/", "notify": {"to": ["s@fernleaf.example"]},
                                  "fields": [field]}}}


def test_the_real_schema_loads_with_both_forms():
    schema = load_schema("forms.yml")
    assert {"consultation", "contact"} <= set(schema.forms)
    names = [f.name for f in schema.forms["consultation"].fields]
    assert names == ["name", "email", "phone", "company", "website", "service", "budget",
                     "preferred_date", "preferred_time", "message", "consent"]
    consent = schema.forms["consultation"].field("consent")
    assert consent.required and consent.consent and consent.type == "checkbox"


@pytest.mark.parametrize("change, message", [
    ({"type": "colour"}, "form 'contact' field 'email': unknown type 'colour'"),
    ({"type": "select"}, "form 'contact' field 'email': a select needs a non-empty list of choices"),
    ({"type": "select", "choices": ["a", "a"]}, "field 'email': a choice value is listed twice"),
    ({"choices": ["a"]}, "field 'email': only a select has choices"),
    ({"max_length": 0}, "field 'email': max_length must be a positive whole number"),
    ({"max_lenght": 10}, "field 'email': unknown key 'max_lenght'"),
    ({"name": "Bad Name"}, "field 'Bad Name': names are lower-case"),
    ({"consent": True}, "field 'email': only a checkbox can record consent"),
    ({"name": "fax"}, "field 'fax': clashes with the honeypot name"),
])
def test_field_errors_name_the_form_and_field(change, message):
    with pytest.raises(SchemaError, match=message):
        parse_schema(minimal(**change))


def test_duplicate_field_names_are_refused():
    raw = minimal()
    raw["forms"]["contact"]["fields"].append({"name": "email", "type": "text"})
    with pytest.raises(SchemaError, match="form 'contact' field 'email': the name is used twice"):
        parse_schema(raw)


@pytest.mark.parametrize("change, message", [
    ({"thank_you": "https://evil.example/"}, "thank_you must be a path on the site"),
    ({"thank_you": "//evil.example/"}, "thank_you must be a path on the site"),
    ({"notify": {}}, "notify.to needs at least one address"),
    ({"notify": {"to": ["not an address"]}}, "is not an email address"),
    ({"notify": {"to": ["a@fernleaf.example"], "routes": [{"when": {"nope": "x"}, "to": "b@fernleaf.example"}]}},
     "'when' names an unknown field 'nope'"),
    ({"fields": []}, "has no fields"),
    ({"fields": "email"}, "'fields' must be a list"),
])
def test_form_errors_name_the_form(change, message):
    raw = minimal()
    raw["forms"]["contact"].update(change)
    with pytest.raises(SchemaError, match=f"form 'contact'.*{message}"):
        parse_schema(raw)


def test_bad_files_say_what_is_wrong(tmp_path):
    with pytest.raises(SchemaError, match="cannot read the form schema"):
        load_schema(tmp_path / "missing.yml")
    broken = tmp_path / "broken.yml"
    broken.write_text("forms:\n  a: [\n")
    with pytest.raises(SchemaError, match="not valid YAML .*line"):
        load_schema(broken)
    empty = tmp_path / "empty.yml"
    empty.write_text("{}\n")
    with pytest.raises(SchemaError, match="non-empty 'forms' section"):
        load_schema(empty)


@pytest.fixture(scope="module")
def consultation_form():
    return load_schema("forms.yml").forms["consultation"]


VALID = {"name": "Ada", "email": "ada@analytical.example.com", "service": "starter",
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
    ("preferred_date", "20/06/2030", "YYYY-MM-DD"),
    ("preferred_date", "2030-06-14", "from today onwards"),
    ("preferred_date", "9999-12-31", "within the next 90 days"),
    ("preferred_date", "2030-09-14", "within the next 90 days"),
    ("preferred_date", "2030-W26-1", "YYYY-MM-DD"),
    ("preferred_date", "20300615", "YYYY-MM-DD"),
    ("preferred_date", "2030-06-15T10:00", "YYYY-MM-DD"),
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


def test_routing_picks_the_first_matching_route(consultation_form):
    assert consultation_form.recipients({"service": "ecommerce"}) == (
        "shops@fernleaf.example", "sales@fernleaf.example")
    assert consultation_form.recipients({"service": "starter"}) == ("sales@fernleaf.example",)


def test_attribution_is_trimmed_and_unknown_keys_dropped():
    raw = {key: f" {key} " for key in ATTRIBUTION_FIELDS}
    raw.update(page_url="https://x.example/a\r\nb" + "y" * 3000, password="secret", first_utm_term=["list"])
    cleaned = clean_attribution(raw)
    assert "password" not in cleaned and "first_utm_term" not in cleaned
    assert cleaned["first_utm_source"] == "first_utm_source"
    assert "\n" not in cleaned["page_url"] and len(cleaned["page_url"]) == 2000


def test_schema_file_round_trips_through_yaml(tmp_path):
    path = tmp_path / "forms.yml"
    path.write_text(yaml.safe_dump(minimal()))
    assert load_schema(path).forms["contact"].notify_to == ("s@fernleaf.example",)


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


def test_days_ahead_belongs_to_date_fields():
    with pytest.raises(SchemaError, match="days_ahead"):
        parse_schema(minimal(days_ahead=10))
    with pytest.raises(SchemaError, match="days_ahead"):
        parse_schema(minimal(type="date", days_ahead="soon"))


def test_attribution_drops_controls_bidi_and_surrogates():
    found = clean_attribution({"page_url": "https://x.example/\u202e/a\tb\ud800\x85c"})
    assert found == {"page_url": "https://x.example//a b c"}
