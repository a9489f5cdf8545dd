"""What forms.yml and sales.yml must agree on, checked once at start.

Each file is checked on its own first (forms.py, sales.py); this is the one place that reads
both: the ways of meeting a booking form offers are the ones sales.yml can hold.
"""
from __future__ import annotations

from capture.schema.forms import Schema
from capture.schema.sales import Sales, SalesError


def check_agreement(schema: Schema, sales: Sales) -> None:
    """SalesError, one line naming both files, when a form offers a meeting kind sales.yml does not (or the reverse)."""
    if sales.consultation is None:
        return
    kinds = sales.consultation.meeting.kinds
    for form in schema.forms.values():
        field = form.field(form.booking.kind_field) if form.booking and form.booking.kind_field else None
        if field is None:
            continue
        offered = tuple(c.value for c in field.choices)
        if sorted(offered) != sorted(kinds):
            raise SalesError(
                f"{sales.source}: consultation.meeting.kinds ({', '.join(kinds)}) and {schema.source}: form "
                f"'{form.id}' field '{field.name}' ({', '.join(offered)}) must offer the same kinds")
