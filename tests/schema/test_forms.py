"""The form schema: loading forms.yml and its errors (test_validation.py: checking submissions)."""
import pytest
import yaml

from capture.schema.forms import SchemaError, load_schema, parse_schema


def minimal(**field_overrides) -> dict:
    """A one-form schema whose single field can be varied."""
    field = {"name": "email", "label": "Email", "type": "email", **field_overrides}
    return {"forms": {"contact": {"thank_you": "/thanks/", "notify": {"to": ["s@fernleaf.example"]},
                                  "fields": [field]}}}


def test_the_real_schema_loads_with_both_forms():
    schema = load_schema("forms.yml")
    assert {"consultation", "contact"} <= set(schema.forms)
    names = [f.name for f in schema.forms["consultation"].fields]
    assert names == ["name", "email", "meeting_kind", "phone", "company", "website", "service", "budget",
                     "preferred_date", "preferred_time", "message", "consent"]
    consent = schema.forms["consultation"].field("consent")
    assert consent.required and consent.consent and consent.type == "checkbox"


@pytest.mark.parametrize("change, message", [
    ({"type": "colour"}, "form 'contact' field 'email': unknown type 'colour'"),
    ({"type": "select"}, "form 'contact' field 'email': a select needs a non-empty list of choices"),
    ({"type": "select", "choices": ["a", "a"]}, "field 'email': a choice value is listed twice"),
    ({"choices": ["a"]}, "field 'email': only a select or radio has choices"),
    ({"type": "radio"}, "field 'email': a radio needs a non-empty list of choices"),
    ({"required_when": "phone"}, "field 'email': required_when is a mapping of field: value"),
    ({"required_when": {"email": "x"}, "required": True}, "field 'email': required_when is a mapping"),
    ({"required_when": {"nope": "x"}}, "field 'email': required_when names an unknown field 'nope'"),
    ({"required_when": {"email": "x"}}, "field 'email': required_when names an unknown field 'email'"),
    ({"max_length": 0}, "field 'email': max_length must be a positive whole number"),
    ({"max_lenght": 10}, "field 'email': unknown key 'max_lenght'"),
    ({"name": "Bad Name"}, "field 'Bad Name': names are lower-case"),
    ({"consent": True}, "field 'email': only a checkbox can record consent"),
    ({"weekdays_only": True}, "field 'email': weekdays_only is for a date field"),
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


def test_routing_picks_the_first_matching_route():
    consultation_form = load_schema("forms.yml").forms["consultation"]
    assert consultation_form.recipients({"service": "ecommerce"}) == (
        "shops@fernleaf.example", "sales@fernleaf.example")
    assert consultation_form.recipients({"service": "starter"}) == ("sales@fernleaf.example",)


def test_schema_file_round_trips_through_yaml(tmp_path):
    path = tmp_path / "forms.yml"
    path.write_text(yaml.safe_dump(minimal()))
    assert load_schema(path).forms["contact"].notify_to == ("s@fernleaf.example",)


def test_days_ahead_belongs_to_date_fields():
    with pytest.raises(SchemaError, match="days_ahead"):
        parse_schema(minimal(days_ahead=10))
    with pytest.raises(SchemaError, match="days_ahead"):
        parse_schema(minimal(type="date", days_ahead="soon"))


def test_the_consultation_chooses_how_to_meet_and_a_phone_call_needs_a_number():
    form = load_schema("forms.yml").forms["consultation"]
    kind = form.field("meeting_kind")
    assert kind.type == "radio" and kind.required and kind.label == "How shall we meet?"
    assert [c.value for c in kind.choices] == ["video", "phone"]  # video first: a number only from those who want a call
    phone = form.field("phone")
    assert not phone.required and phone.required_when == {"meeting_kind": "phone"}
    assert phone.required_message == "We need a number to call you on."
    assert (form.booking.kind_field, form.booking.zone_field) == ("meeting_kind", "time_zone")


def booking_form(**booking) -> dict:
    raw = minimal()
    raw["forms"]["contact"]["fields"] += [
        {"name": "how", "type": "radio", "choices": ["phone", "video"]},
        {"name": "phone", "type": "tel", "required_when": {"how": "phone"}}]
    raw["forms"]["contact"]["booking"] = {"slot_field": "slot", **booking}
    return raw


@pytest.mark.parametrize("booking, message", [
    ({"kind_field": "nope"}, "booking: kind_field 'nope' must name a select or radio field"),
    ({"kind_field": "phone"}, "booking: kind_field 'phone' must name a select or radio field"),
    ({"zone_field": "phone"}, "booking: zone_field 'phone' must be a new lower-case name"),
    ({"zone_field": "slot"}, "booking: zone_field 'slot' must be a new lower-case name"),
    ({"zone_field": "Time Zone"}, "booking: zone_field 'Time Zone' must be a new lower-case name"),
    ({"zone": "tz"}, "booking: unknown key 'zone'"),
])
def test_booking_keys_are_checked(booking, message):
    with pytest.raises(SchemaError, match=message):
        parse_schema(booking_form(**booking))


def test_required_when_must_name_one_of_the_other_fields_choices():
    raw = booking_form()
    raw["forms"]["contact"]["fields"][-1]["required_when"] = {"how": "pigeon"}
    with pytest.raises(SchemaError, match="field 'phone': required_when: 'pigeon' is not one of how's choices"):
        parse_schema(raw)
