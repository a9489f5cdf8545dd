"""The OpenAPI 3.1 description of the capture API, built from the form schema."""
from __future__ import annotations

from datetime import timedelta

from capture.core.clock import utcnow
from capture.schema.forms import ATTRIBUTION_FIELDS, TIME_ON_FORM, Field, Form, Schema
from capture.schema.validation import SATURDAY

# Free-text fields also take a JSON number as the text it spells (a phone number sent as one).
NUMBER_AS_TEXT = ("text", "textarea", "tel", "url")
# A web address may leave out its scheme (https:// is assumed), so url fields have no format.
FORMATS = {"email": "email", "date": "date"}
# A checkbox is ticked by true, 1 or on/true/1/yes in any case, unticked by false, 0, "" or
# off/false/0/no; other text is refused with a message.
CHECKBOX = {"anyOf": [{"type": ["boolean", "string"]}, {"enum": [0, 1]}]}
# An optional field left blank (null, or nothing but spaces) is not answered.
BLANK = [{"type": "null"}, {"type": "string", "pattern": r"^\s*$"}]
# Sent by the site's script and never refused: text is cleaned and kept, anything else ignored.
NEVER_REFUSED = " Never refused: a value that is not text is ignored."
# An example answer for each field, by its autocomplete hint or else its type (a select's is
# its first choice, a date's a week ahead): documentation, and the valid request that API
# testing tools start from.
EXAMPLES_BY_AUTOCOMPLETE = {"name": "Ada Lovelace", "organization": "Analytical Engines Ltd"}
EXAMPLES_BY_TYPE = {"text": "Brass gears", "email": "ada@example.com", "tel": "+44 20 7946 0018",
                    "url": "https://analytical.example.com",
                    "textarea": "We sell brass gears online and would like a new shop.",
                    "checkbox": True, "time": "09:30"}


def build_spec(schema: Schema, horizon_days: int | None = None) -> dict:
    """The whole document; tests validate real responses against it.

    `horizon_days` (sales.yml's consultation) adds GET /api/slots, when a form books.
    """
    booking = horizon_days and any(form.booking for form in schema.forms.values())
    return {
        "openapi": "3.1.0",
        "info": {"title": "Fernleaf capture API", "version": "1.0.0",
                 "description": "Receives the website's forms, stores each lead and notifies sales."},
        "paths": {"/api/forms/{form_id}": _submit_path(schema),
                  # The same endpoint once per form, each with exactly that form's fields.
                  **{f"/api/forms/{form.id}": _form_path(form) for form in schema.forms.values()},
                  **({"/api/slots": _slots_path(schema, horizon_days)} if booking else {}),
                  "/api/views": _views_path(),
                  "/api/health": _health_path(), "/api/openapi.json": _self_path()},
        "components": {"schemas": _components(schema)},
    }


def _submit_path(schema: Schema) -> dict:
    parameter = {"name": "form_id", "in": "path", "required": True,
                 "schema": {"type": "string", "enum": sorted(schema.forms)}}
    operation = _submit_operation("Submit a form", "Submission", [parameter], "submit")
    operation["description"] = ("Any form, named by its id. Each form also has its own path "
                                "below, with exactly that form's fields.")
    return {"post": operation}


def _form_path(form: Form) -> dict:
    operation = _submit_operation(form.title, _component_name(form), [], f"submit_{form.id}")
    del operation["responses"]["404"]
    if form.booking is None:
        del operation["responses"]["409"]
    return {"post": operation}


def _submit_operation(summary: str, body_schema: str, parameters: list, operation_id: str) -> dict:
    body = {"$ref": f"#/components/schemas/{body_schema}"}
    return {
        "summary": summary,
        "operationId": operation_id,
        "parameters": parameters,
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": body},
            "application/x-www-form-urlencoded": {"schema": body},
            "multipart/form-data": {"schema": body}}},
        "responses": {
            "201": _json_response("Received", "Stored (JSON clients); a booking also gets its Booked card."),
            "303": {"description": "Stored; browsers are sent to the form's thank-you page, or after "
                                   "a booking to its Booked page.",
                    "headers": {"Location": {"schema": {"type": "string"}}}},
            "422": _problem_response("ValidationErrors", "Some fields are invalid; a browser gets "
                                                         "the form again with each problem."),
            "409": _problem_response("Conflict", "The time asked for is not free (any more): the "
                                                 "next free ones are offered instead; or the address "
                                                 "already holds a consultation (one at a time)."),
            "429": _problem_response("TooMany", "Rate limit reached; a booking over the per-IP booking "
                                                "limit is refused on the slot field."),
            **{code: _problem_response("Error", text) for code, text in (
                ("400", "Malformed JSON."), ("403", "Origin not allowed."),
                ("404", "Unknown form."), ("413", "Body over 64 KiB."),
                ("415", "Unsupported content type."),
                ("503", "The lead could not be stored; retry."))},
        }}


def _slots_path(schema: Schema, horizon_days: int) -> dict:
    forms = sorted(form.id for form in schema.forms.values() if form.booking)
    return {"get": {
        "summary": "Free consultation times",
        "description": "Times a visitor can book now (working hours, holidays, notice and other "
                       "bookings considered), in UTC; send one's `start` as the form's slot.",
        "parameters": [
            {"name": "form", "in": "query", "required": True, "schema": {"type": "string", "enum": forms}},
            {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"},
             "description": "The first day (business time zone); default today."},
            {"name": "days", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                        "maximum": horizon_days, "default": 7}}],
        "responses": {
            "200": _json_response("Slots", "The free times, sorted (cacheable for a few seconds)."),
            "400": _json_response("Error", "A parameter is missing or wrong; the message names it."),
            "503": _json_response("Error", "The bookings cannot be read just now.")}}}


def _views_path() -> dict:
    view = {"$ref": "#/components/schemas/PageView"}
    return {"post": {
        "summary": "Count a page view",
        "operationId": "count_view",
        "description": "The site's beacon, one per page view (`navigator.sendBeacon` with the JSON as "
                       "a string, so `text/plain`). Only daily counts per page, referring site and "
                       "campaign are kept. Not counted, with the same answer: bots and crawlers, "
                       "prefetches, the desk's pages, paths that are not pages of the site (when the "
                       "site build's list is configured), and what is new past an address's daily "
                       "allowance; `Sec-GPC: 1` or `DNT: 1` counts the view but not the visitor. "
                       "Fields other than these are ignored.",
        "requestBody": {"required": True, "content": {
            "text/plain": {"schema": {"type": "string", "contentMediaType": "application/json",
                                      "description": "The same JSON object, as text."}},
            "application/json": {"schema": view}}},
        "responses": {
            "204": {"description": "Counted, or deliberately not counted."},
            "400": {"description": "Not a JSON object, or a field that cannot be what the site "
                                   "sends; `errors` names each such field.",
                    "content": {"application/json": {"schema": {"anyOf": [
                        {"$ref": "#/components/schemas/ValidationErrors"},
                        {"$ref": "#/components/schemas/Error"}]}}}},
            **{code: _json_response("Error", text) for code, text in (
                ("403", "Origin not allowed."), ("413", "Body over 8 KiB."),
                ("415", "Not text/plain or JSON."), ("429", "Rate limit reached (per IP)."),
                ("503", "The database cannot take the view just now."))}}}}


def _page_view_schema() -> dict:
    text = {"type": ["string", "null"], "maxLength": 100}
    return {"type": "object", "required": ["path"], "properties": {
        "path": {"type": "string", "minLength": 1, "maxLength": 300, "pattern": "^/([^/]|$)",
                 "description": "`location.pathname`: a path of this site (URL path characters, "
                                "no scheme or host); a query or fragment is cut off.",
                 "examples": ["/services/"]},
        "referrer": {"type": ["string", "null"], "description": "`document.referrer`; only its host "
                     "is kept, and none for our own pages.", "examples": ["https://www.google.com/"]},
        **{f"utm_{name}": {**text, "description": f"The landing URL's `utm_{name}`, as written.",
                           "examples": [example]}
           for name, example in (("source", "newsletter"), ("medium", "email"),
                                 ("campaign", "spring-offer"))}}}


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


def _problem_response(name: str, description: str) -> dict:
    """An error: JSON when the client sent or asked for JSON, else an HTML page for people."""
    response = _json_response(name, description)
    response["content"]["text/html"] = {"schema": {"type": "string"}}
    return response


def _components(schema: Schema) -> dict:
    forms = {_component_name(form): _form_schema(form, schema) for form in schema.forms.values()}
    return {
        **forms,
        "Submission": {"anyOf": [{"$ref": f"#/components/schemas/{n}"} for n in forms]},
        "Received": {"type": "object", "required": ["id", "status"], "additionalProperties": False,
                     "properties": {"id": {"type": "string", "minLength": 16},
                                    "status": {"const": "received"},
                                    "booking": {"$ref": "#/components/schemas/BookedCard"}}},
        "BookedCard": _booked_card_schema(),
        "ValidationErrors": {"type": "object", "required": ["errors"], "additionalProperties": False,
                             "properties": {"errors": {"type": "object", "minProperties": 1,
                                                       "additionalProperties": {"type": "string"}}}},
        "Error": {"type": "object", "required": ["error"], "additionalProperties": False,
                  "properties": {"error": {"type": "string"}}},
        "Health": _health_schema(),
        "PageView": _page_view_schema(),
        "Slots": _slots_schema(),
        "SlotTaken": {"type": "object", "required": ["errors", "slots"], "additionalProperties": False,
                      "properties": {"errors": {"type": "object", "required": ["slot"],
                                                "properties": {"slot": {"type": "string"}}},
                                     "slots": {"type": "array", "items": {"$ref": "#/components/schemas/Slot"}}}},
        "SlotError": {"type": "object", "required": ["errors"], "additionalProperties": False,
                      "properties": {"errors": {"type": "object", "required": ["slot"],
                                                "properties": {"slot": {"type": "string"}}}}},
        "Conflict": {"oneOf": [{"$ref": "#/components/schemas/SlotTaken"},
                               {"$ref": "#/components/schemas/SlotError"}]},
        "TooMany": {"oneOf": [{"$ref": "#/components/schemas/Error"},
                              {"$ref": "#/components/schemas/SlotError"}]},
        "Slot": {"type": "object", "required": ["start", "end"], "additionalProperties": False,
                 "properties": {"start": {"type": "string", "format": "date-time"},
                                "end": {"type": "string", "format": "date-time"}}},
    }


def _booked_card_schema() -> dict:
    """What capture/booking/confirmation.details gives: texts formatted for the visitor, null when absent."""
    text, url = {"type": "string"}, {"type": "string", "format": "uri"}
    maybe = {"type": ["string", "null"]}
    return {"type": "object", "additionalProperties": False,
            "description": "The Booked card: times in the visitor's zone (and the studio's when it differs).",
            "required": ["what", "kind", "starts_at", "ends_at", "time_zone", "when", "studio_when", "host", "how",
                         "video_url", "invitation_to", "calendar", "manage"],
            "properties": {
                "what": text, "kind": {"enum": ["phone", "video"]},
                "starts_at": {"type": "string", "format": "date-time"},
                "ends_at": {"type": "string", "format": "date-time"},
                "time_zone": text, "when": text, "studio_when": maybe, "host": text, "how": text,
                "video_url": maybe, "invitation_to": maybe,
                "calendar": {"type": "object", "additionalProperties": False, "required": ["google", "outlook", "ics"],
                             "properties": {"google": url, "outlook": url, "ics": url}},
                "manage": {"type": "object", "additionalProperties": False, "required": ["move", "cancel"],
                           "properties": {"move": url, "cancel": url}}}}


def _slots_schema() -> dict:
    return {"type": "object", "required": ["timezone", "length_minutes", "slots"], "additionalProperties": False,
            "properties": {"timezone": {"type": "string"}, "length_minutes": {"type": "integer", "minimum": 1},
                           "slots": {"type": "array", "items": {"$ref": "#/components/schemas/Slot"}}}}


def _component_name(form: Form) -> str:
    return f"{form.id.title().replace('_', '').replace('-', '')}Submission"


def _form_schema(form: Form, schema: Schema) -> dict:
    props = {f.name: _field_schema(f) for f in form.fields}
    props.update({name: {"description": "Attribution (sent by the site's script)." + NEVER_REFUSED}
                  for name in ATTRIBUTION_FIELDS})
    props[TIME_ON_FORM] = {"description": "Milliseconds the visitor spent on the form "
                                          "(sent by the site's script)." + NEVER_REFUSED}
    props[schema.honeypot] = {"description": "Honeypot: leave it out or empty. Any value, of any "
                                             "type, marks the lead as spam; the answer is the same."}
    required = [f.name for f in form.fields if f.required]
    conditions = {"allOf": _conditions(form)} if _conditions(form) else {}
    if form.booking is None:
        return {"type": "object", "title": form.title, "properties": props, "required": required, **conditions}
    # A booking: either a slot, or the fields it replaces (the request path).
    props[form.booking.slot_field] = {
        "anyOf": [{"type": "string", "maxLength": 40}, *BLANK],
        "description": "The `start` of a time offered by GET /api/slots: books it (409 if it was just "
                       "taken). Without it, the fields it replaces ask for a preferred time.",
        "examples": [""]}
    if form.booking.zone_field:
        props[form.booking.zone_field] = {
            "anyOf": [{"type": "string", "maxLength": 64}, *BLANK],
            "description": "The visitor's IANA time zone (sent by the site's script): the booking's "
                           "messages show its times there. A name the tz database does not list is "
                           "refused; none means the studio's zone.",
            "examples": ["Europe/London"]}
    others = [name for name in required if name not in form.booking.replaces]
    return {"type": "object", "title": form.title, "properties": props, "required": others,
            "anyOf": [{"required": required}, {"required": [form.booking.slot_field]}], **conditions}


def _conditions(form: Form) -> list[dict]:
    """forms.yml's required_when as JSON Schema: with these answers, this field too is required."""
    found = []
    for f in form.fields:
        if f.required_when:
            found.append({"if": {"required": list(f.required_when),
                                 "properties": {k: {"const": v} for k, v in f.required_when.items()}},
                          "then": {"required": [f.name],
                                   "properties": {f.name: {"not": {"anyOf": BLANK}}}}})
    return found


def _field_schema(f: Field) -> dict:
    if f.type == "checkbox":
        result = dict(CHECKBOX)
    else:
        result = {"type": ["string", "number"] if f.type in NUMBER_AS_TEXT else "string",
                  "maxLength": f.max_length}
    if f.type in FORMATS:
        result["format"] = FORMATS[f.type]
    if f.choices:
        result["enum"] = [c.value for c in f.choices]
    if not f.required:
        result = {"anyOf": [result, *BLANK]}
    result["description"] = f.label
    result["examples"] = [_example(f)]
    return result


def _example(f: Field):
    if f.choices:
        return f.choices[0].value
    if f.type == "date":
        day = utcnow().date() + timedelta(days=min(7, f.days_ahead // 2))
        while f.weekdays_only and day.weekday() >= SATURDAY:  # a weekend day would be refused
            day += timedelta(days=1)
        return day.isoformat()
    return EXAMPLES_BY_AUTOCOMPLETE.get(f.autocomplete, EXAMPLES_BY_TYPE.get(f.type, "Example"))


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
