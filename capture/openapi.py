"""The OpenAPI 3.1 description of the capture API, built from the form schema."""
from __future__ import annotations

from .forms import ATTRIBUTION_FIELDS, Field, Form, Schema

JSON_TYPES = {"checkbox": {"type": ["boolean", "string"]}}
FORMATS = {"email": "email", "url": "uri", "date": "date"}


def build_spec(schema: Schema) -> dict:
    """The whole document; tests validate real responses against it."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Fernleaf capture API", "version": "1.0.0",
                 "description": "Receives the website's forms, stores each lead and notifies sales."},
        "paths": {"/api/forms/{form_id}": _submit_path(schema),
                  "/api/health": _health_path(), "/api/openapi.json": _self_path()},
        "components": {"schemas": _components(schema)},
    }


def _submit_path(schema: Schema) -> dict:
    body = {"$ref": "#/components/schemas/Submission"}
    error = _json_response("Error")
    return {"post": {
        "summary": "Submit a form",
        "parameters": [{"name": "form_id", "in": "path", "required": True,
                        "schema": {"type": "string", "enum": sorted(schema.forms)}}],
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": body},
            "application/x-www-form-urlencoded": {"schema": body},
            "multipart/form-data": {"schema": body}}},
        "responses": {
            "201": _json_response("Received", "Stored (JSON clients)."),
            "303": {"description": "Stored; browsers are sent to the form's thank-you page.",
                    "headers": {"Location": {"schema": {"type": "string"}}}},
            "422": _json_response("ValidationErrors", "Some fields are invalid."),
            **{code: {**error, "description": text} for code, text in (
                ("400", "Malformed JSON."), ("403", "Origin not allowed."),
                ("404", "Unknown form."), ("413", "Body over 64 KiB."),
                ("415", "Unsupported content type."), ("429", "Rate limit reached."),
                ("503", "The lead could not be stored; retry."))},
        }}}


def _health_path() -> dict:
    return {"get": {"summary": "Service health",
                    "description": "The public gets the status alone; loopback requests and "
                                   "`Authorization: Bearer <CAPTURE_HEALTH_TOKEN>` also get the "
                                   "database state and the outbox backlog.",
                    "responses": {
                        "200": _json_response("Health", "The database takes writes."),
                        "503": _json_response("Health", "The database is unreachable or refuses writes.")}}}


def _self_path() -> dict:
    return {"get": {"summary": "This document", "responses": {
        "200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}}}}


def _json_response(name: str, description: str = "") -> dict:
    return {"description": description or name,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}


def _components(schema: Schema) -> dict:
    forms = {f"{form.id.title().replace('_', '').replace('-', '')}Submission": _form_schema(form, schema)
             for form in schema.forms.values()}
    return {
        **forms,
        "Submission": {"anyOf": [{"$ref": f"#/components/schemas/{n}"} for n in forms]},
        "Received": {"type": "object", "required": ["id", "status"], "additionalProperties": False,
                     "properties": {"id": {"type": "string", "minLength": 16},
                                    "status": {"const": "received"}}},
        "ValidationErrors": {"type": "object", "required": ["errors"], "additionalProperties": False,
                             "properties": {"errors": {"type": "object", "minProperties": 1,
                                                       "additionalProperties": {"type": "string"}}}},
        "Error": {"type": "object", "required": ["error"], "additionalProperties": False,
                  "properties": {"error": {"type": "string"}}},
        "Health": _health_schema(),
    }


def _form_schema(form: Form, schema: Schema) -> dict:
    props = {f.name: _field_schema(f) for f in form.fields}
    props.update({name: {"type": "string", "description": "Attribution (sent by the site's script)."}
                  for name in ATTRIBUTION_FIELDS})
    props[schema.honeypot] = {"type": "string", "description": "Honeypot: leave empty."}
    return {"type": "object", "title": form.title, "properties": props,
            "required": [f.name for f in form.fields if f.required]}


def _field_schema(f: Field) -> dict:
    result = dict(JSON_TYPES.get(f.type, {"type": "string", "maxLength": f.max_length}))
    if f.type in FORMATS:
        result["format"] = FORMATS[f.type]
    if f.choices:
        result["enum"] = [c.value for c in f.choices]
    result["description"] = f.label
    return result


def _health_schema() -> dict:
    count = {"type": "integer", "minimum": 0}
    return {"type": "object", "required": ["status"], "properties": {
        "status": {"enum": ["ok", "error"]}, "database": {"enum": ["ok", "unavailable"]},
        "outbox": {"type": "object", "properties": {
            "waiting": count, "dead": count, "sent": count,
            "scheduled": {**count, "description": "Reminders and escalations not due yet."},
            "dropped": {**count, "description": "Not sent on purpose (a confirmation over the "
                                                "per-address daily cap)."},
            "oldest_waiting_seconds": {"type": "number", "minimum": 0},
            "attention": {"type": "boolean",
                          "description": "A message is dead or has waited over 5 minutes."}}}}}
