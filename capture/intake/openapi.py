"""The OpenAPI 3.1 description of the capture API, built from the form schema."""
from __future__ import annotations

from datetime import date

from capture.core.zones import zone_names
from capture.schema import characters as chars
from capture.intake.openapi_fields import BLANK, BLANK_TEXT, conditions, field_schema, one_of, slot_pattern
from capture.schema.forms import ATTRIBUTION_FIELDS, TIME_ON_FORM, Form, Schema

# Sent by the site's script and never refused: text is cleaned and kept, anything else ignored.
NEVER_REFUSED = " Never refused: a value that is not text is ignored."
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Where the API is: the same origin as the site that serves this document (Redocly's `servers`).
SERVERS = [{"url": "/", "description": "The site's own origin: the API is under /api/."}]


def build_spec(schema: Schema, today: date, horizon_days: int | None = None) -> dict:
    """The whole document; tests validate real responses against it.

    `today` is the business's date (which dates a form takes today); `horizon_days` (sales.yml's
    consultation) adds GET /api/slots, when a form books. The API is public: no security.
    """
    booking = horizon_days and any(form.booking for form in schema.forms.values())
    return {
        "openapi": "3.1.0",
        "info": {"title": "Fernleaf capture API", "version": "1.0.0",
                 "description": "Receives the website's forms, stores each lead and notifies sales. "
                                "Each form has its own path with exactly its fields (POST "
                                "/api/forms/<id> with another id answers 404).",
                 "license": {"name": "Proprietary", "identifier": "LicenseRef-Proprietary"}},
        "servers": SERVERS,
        "security": [],
        # One path per form, each with exactly that form's fields: a body's rules depend on the form,
        # which a shared /api/forms/{form_id} could not say.
        "paths": {**{f"/api/forms/{form.id}": _form_path(form) for form in schema.forms.values()},
                  **({"/api/slots": _slots_path(schema, horizon_days)} if booking else {}),
                  "/api/views": _views_path(),
                  "/api/health": _health_path(), "/api/openapi.json": _self_path()},
        "components": {"schemas": _components(schema, today)},
    }


def _form_path(form: Form) -> dict:
    operation = _submit_operation(form.title, _component_name(form), f"submit_{form.id}")
    if form.booking is None:
        del operation["responses"]["409"]
    return {"post": operation}


def _submit_operation(summary: str, body_schema: str, operation_id: str) -> dict:
    body = {"$ref": f"#/components/schemas/{body_schema}"}
    posted = {"$ref": f"#/components/schemas/{body_schema}Posted"}  # a form post: every value text
    return {
        "summary": summary,
        "operationId": operation_id,
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": body}, **{kind: {"schema": posted} for kind in FORM_TYPES}}},
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
                ("413", "Body over 64 KiB."),
                ("415", "Unsupported content type."),
                ("503", "The lead could not be stored; retry."))},
        }}


def _slots_path(schema: Schema, horizon_days: int) -> dict:
    forms = sorted(form.id for form in schema.forms.values() if form.booking)
    return {"get": {
        "summary": "Free consultation times",
        "operationId": "free_slots",
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
            "text/plain": {"schema": _beacon_text()},
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


# A page view's text, as capture/traffic/checks.py reads it: a path's characters (RFC 3986, no
# scheme or host), and a UTM value that is one line of text (trimmed).
PATH_CHAR = "A-Za-z0-9\\-._~!$&'()*+,;=@%"  # and ':', which the JSON path also takes (not '://')
VIEW_PATH = f"/(?:[{PATH_CHAR}:][{PATH_CHAR}:/]*)?"
UTM_TEXT = f"[^{chars.CONTROLS}{chars.LINE_BREAKS}{chars.BIDI_CONTROLS}{chars.INVISIBLE}]"


def _page_view_schema() -> dict:
    utm = {"type": ["string", "null"], "maxLength": 100,
           "pattern": f"^[{chars.WHITESPACE}]*{UTM_TEXT}*[{chars.WHITESPACE}]*$"}
    return {"type": "object", "required": ["path"], "properties": {
        "path": {"type": "string", "minLength": 1, "maxLength": 300,
                 "pattern": f"^{VIEW_PATH}(?:[?#][\\s\\S]*)?$", "not": {"pattern": "^[^?#]*://"},
                 "description": "`location.pathname`: a path of this site (URL path characters, "
                                "no scheme or host); a query or fragment is cut off.",
                 "examples": ["/services/"]},
        "referrer": {"type": ["string", "null"], "description": "`document.referrer`; only its host "
                     "is kept, and none for our own pages.", "examples": ["https://www.google.com/"]},
        **{f"utm_{name}": {**utm, "description": f"The landing URL's `utm_{name}`, as written.",
                           "examples": [example]}
           for name, example in (("source", "newsletter"), ("medium", "email"),
                                 ("campaign", "spring-offer"))}}}


def _beacon_text() -> dict:
    """The beacon as text/plain: JSON spelled as the site's script spells it (keys in its order)."""
    text = f"[^\"\\\\\\t{chars.CONTROLS}{chars.LINE_BREAKS}{chars.BIDI_CONTROLS}{chars.INVISIBLE}]"
    path = f"/(?:[{PATH_CHAR}][{PATH_CHAR}/]{{0,298}})?"
    utm = "".join(f'(?:,"utm_{name}":"{text}{{0,100}}")?' for name in ("source", "medium", "campaign"))
    return {"type": "string", "contentMediaType": "application/json",
            "pattern": f'^\\{{"path":"{path}"(?:,"referrer":"{text}{{0,2000}}")?{utm}\\}}$',
            "description": "The same JSON object, as text (the pattern is the form the site's script sends).",
            "examples": ['{"path":"/services/","referrer":"https://www.google.com/"}']}


def _health_path() -> dict:
    return {"get": {"summary": "Service health", "operationId": "health",
                    "description": "The public gets the status alone; loopback requests and "
                                   "`Authorization: Bearer <CAPTURE_HEALTH_TOKEN>` also get the "
                                   "database state and the outbox backlog.",
                    "responses": {
                        "200": _json_response("Health", "The database takes writes."),
                        "503": _json_response("Health", "The database is unreachable or refuses writes.")}}}


def _self_path() -> dict:
    return {"get": {"summary": "This document", "operationId": "openapi", "responses": {
        "200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}}}}


def _json_response(name: str, description: str = "") -> dict:
    return {"description": description or name,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}


def _problem_response(name: str, description: str) -> dict:
    """An error: JSON when the client sent or asked for JSON, else an HTML page for people."""
    response = _json_response(name, description)
    response["content"]["text/html"] = {"schema": {"type": "string"}}
    return response


def _components(schema: Schema, today: date) -> dict:
    forms = {}
    for form in schema.forms.values():
        forms[_component_name(form)] = _form_schema(form, schema, today, form_post=False)
        forms[f"{_component_name(form)}Posted"] = _form_schema(form, schema, today, form_post=True)
    return {
        **forms,
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


def _form_schema(form: Form, schema: Schema, today: date, form_post: bool) -> dict:
    props = {f.name: field_schema(f, today, form_post) for f in form.fields}
    props.update({name: {"description": "Attribution (sent by the site's script)." + NEVER_REFUSED}
                  for name in ATTRIBUTION_FIELDS})
    props[TIME_ON_FORM] = {"description": "Milliseconds the visitor spent on the form "
                                          "(sent by the site's script)." + NEVER_REFUSED}
    props[schema.honeypot] = {"description": "Honeypot: leave it out or empty. Any value, of any "
                                             "type, marks the lead as spam; the answer is the same."}
    required = [f.name for f in form.fields if f.required and not _defaulted(f)]
    title = form.title + (" (a form post: every value is text)" if form_post else "")
    rules = {"allOf": conditions(form)} if conditions(form) else {}
    if form.booking is None:
        return {"type": "object", "title": title, "properties": props, "required": required, **rules}
    blank = [BLANK_TEXT] if form_post else BLANK
    # A booking: either a slot, or the fields it replaces (the request path).
    props[form.booking.slot_field] = {
        "anyOf": [{"type": "string", "maxLength": 40, "pattern": slot_pattern(today)}, *blank],
        "description": "The `start` of a time offered by GET /api/slots (ISO 8601 with its offset; "
                       "last year, this year or next): books it, or 409 with the next free times "
                       "when it is not free. Without it, the fields it replaces ask for a preferred time.",
        "examples": [""]}
    if form.booking.zone_field:
        props[form.booking.zone_field] = {
            "anyOf": [{"type": "string", "pattern": one_of(zone_names())}, *blank],
            "description": "The visitor's IANA time zone (sent by the site's script): the booking's "
                           "messages show its times there. A name the tz database does not list is "
                           "refused; none means the studio's zone.",
            "examples": ["Europe/London"]}
    others = [name for name in required if name not in form.booking.replaces]
    return {"type": "object", "title": title, "properties": props, "required": others,
            "anyOf": [{"required": required},
                      {"required": [form.booking.slot_field],
                       "properties": {form.booking.slot_field: {"not": _one_of_these(blank)}}}], **rules}


def _one_of_these(schemas: list[dict]) -> dict:
    return schemas[0] if len(schemas) == 1 else {"anyOf": schemas}


def _defaulted(f) -> bool:
    """A radio with one choice may be left out: it is that choice."""
    return f.type == "radio" and len(f.choices) == 1


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
