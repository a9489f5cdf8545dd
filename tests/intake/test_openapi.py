"""The OpenAPI description is valid and matches what the API really answers."""
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from capture.schema.forms import load_schema


@pytest.fixture
def api_spec(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.json


def check(spec: dict, path: str, method: str, response) -> None:
    """Validate a real response body against the spec's schema for its status."""
    declared = spec["paths"][path][method]["responses"]
    assert str(response.status_code) in declared, f"{response.status_code} not documented for {path}"
    content = declared[str(response.status_code)].get("content", {}).get("application/json")
    if content is None:
        return
    schema = {**content["schema"], "components": spec["components"]}
    Draft202012Validator(schema).validate(response.json)


def test_the_document_is_valid_openapi_3_1(api_spec):
    assert api_spec["openapi"] == "3.1.0"
    validate(api_spec)


def test_each_form_is_described_from_forms_yml(api_spec):
    schemas = api_spec["components"]["schemas"]
    consultation = schemas["ConsultationSubmission"]
    form = load_schema("forms.yml").forms["consultation"]
    required = {f.name for f in form.fields if f.required}
    # A booking form: a slot or the fields it replaces, and everything else required either way.
    assert set(consultation["required"]) == required - {"preferred_date", "preferred_time"}
    assert [set(option["required"]) for option in consultation["anyOf"]] == [required, {"slot"}]
    assert "slot" not in schemas["ContactSubmission"]["properties"]
    assert consultation["properties"]["service"]["enum"] == [c.value for c in form.field("service").choices]


def test_slots_and_a_taken_slot_match_the_description(clock, client, api_spec, consultation):
    # The clock's Wednesday morning: three days with free slots (from a Friday afternoon, none).
    slots = client.get("/api/slots?form=consultation&days=3")
    check(api_spec, "/api/slots", "get", slots)
    check(api_spec, "/api/slots", "get", client.get("/api/slots?form=contact"))
    start = slots.json["slots"][0]["start"]
    booking = {**consultation, "slot": start, "time_on_form": "60000"}
    for n in range(2):  # two hosts: the third visitor finds it taken
        assert client.post("/api/forms/consultation", json={**booking, "email": f"b{n}@example.com"}).status_code == 201
    taken = client.post("/api/forms/consultation", json={**booking, "email": "b3@example.com"})
    assert taken.status_code == 409
    check(api_spec, "/api/forms/consultation", "post", taken)


def test_real_responses_match_the_description(make_app, api_spec, consultation):
    client = make_app(ratelimit="8 per minute", ratelimit_prefix="openapi-test").test_client()
    json_accept = {"Accept": "application/json"}
    cases = [
        client.post("/api/forms/consultation", json=consultation),
        client.post("/api/forms/consultation", data=consultation),
        client.post("/api/forms/consultation", json={"email": "x"}),
        client.post("/api/forms/consultation", data="{", content_type="application/json"),
        client.post("/api/forms/consultation", json=consultation, headers={"Origin": "https://evil.example"}),
        client.post("/api/forms/nope", json=consultation),
        client.post("/api/forms/contact", data="x", content_type="text/plain", headers=json_accept),
        client.post("/api/forms/contact", json={"m": "x" * 70000}),
        client.post("/api/forms/contact", json=consultation),
    ]
    statuses = [r.status_code for r in cases]
    assert statuses == [201, 303, 422, 400, 403, 404, 415, 413, 429]
    paths = ["/api/forms/consultation"] * 5 + [None] + ["/api/forms/contact"] * 3
    for path, response in zip(paths, cases):
        if path:
            check(api_spec, path, "post", response)
    # A form the description does not list: its paths are exactly the forms that exist.
    assert "/api/forms/nope" not in api_spec["paths"] and set(cases[5].json) == {"error"}
    check(api_spec, "/api/health", "get", client.get("/api/health"))


def test_each_form_has_its_own_path_whose_examples_are_a_valid_submission(api_spec, client):
    """The examples are where API testing tools start (tests/intake/test_openapi_fuzz.py): they must pass."""
    schemas = api_spec["components"]["schemas"]
    for form_id in load_schema("forms.yml").forms:
        path = f"/api/forms/{form_id}"
        body = api_spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        properties = schemas[body["$ref"].rsplit("/", 1)[1]]["properties"]
        example = {name: spec["examples"][0] for name, spec in properties.items() if "examples" in spec}
        response = client.post(path, json=example)
        assert response.status_code == 201, response.json
        check(api_spec, path, "post", response)


def test_a_second_booking_for_one_address_and_the_booking_limit_match_the_description(make_app, consultation):
    client = make_app(booking_ratelimit="1 per hour", ratelimit_prefix="openapi-booking").test_client()
    spec = client.get("/api/openapi.json").json
    slots = [s["start"] for s in client.get("/api/slots?form=consultation&days=14").json["slots"]]
    booking = {**consultation, "time_on_form": "60000"}
    assert client.post("/api/forms/consultation", json={**booking, "slot": slots[0]}).status_code == 201
    held = client.post("/api/forms/consultation", json={**booking, "slot": slots[1]},
                       environ_base={"REMOTE_ADDR": "198.51.100.9"})
    over = client.post("/api/forms/consultation", json={**booking, "slot": slots[2], "email": "b@example.com"})
    assert (held.status_code, over.status_code) == (409, 429)
    for response in (held, over):
        check(spec, "/api/forms/consultation", "post", response)


def test_a_phone_call_needs_a_number_in_the_description_too(api_spec):
    schema = {**api_spec["components"]["schemas"]["ConsultationSubmission"], "components": api_spec["components"]}
    validator = Draft202012Validator(schema)
    example = {name: prop["examples"][0] for name, prop in schema["properties"].items() if "examples" in prop}
    assert validator.is_valid({**example, "meeting_kind": "phone"})
    assert not validator.is_valid({**example, "meeting_kind": "phone", "phone": ""})
    assert not validator.is_valid({k: v for k, v in {**example, "meeting_kind": "phone"}.items() if k != "phone"})
    assert validator.is_valid({**example, "meeting_kind": "video", "phone": ""})
    assert schema["properties"]["time_zone"]["examples"] == ["Europe/London"]


def test_a_booking_answers_with_the_booked_card_as_described(clock, client, api_spec, consultation):
    start = client.get("/api/slots?form=consultation&days=3").json["slots"][0]["start"]
    booked = client.post("/api/forms/consultation", json={**consultation, "slot": start, "time_on_form": "60000",
                                                          "time_zone": "America/New_York"})
    assert booked.status_code == 201 and booked.json["booking"]["time_zone"] == "America/New_York"
    check(api_spec, "/api/forms/consultation", "post", booked)
