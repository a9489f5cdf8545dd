"""The OpenAPI description is valid and matches what the API really answers."""
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from capture.forms import load_schema


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
    assert set(consultation["required"]) == {f.name for f in form.fields if f.required}
    assert consultation["properties"]["service"]["enum"] == [c.value for c in form.field("service").choices]


def test_real_responses_match_the_description(make_app, api_spec, consultation):
    client = make_app(ratelimit="8 per minute", ratelimit_prefix="openapi-test").test_client()
    path = "/api/forms/{form_id}"
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
    for response in cases:
        check(api_spec, path, "post", response)
    check(api_spec, "/api/health", "get", client.get("/api/health"))
