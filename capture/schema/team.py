"""The team in sales.yml: its members, their roles, and who may own a lead."""
from __future__ import annotations

from dataclasses import dataclass

from capture.schema import checks

ROLES = ("sales", "marketing", "manager", "host")
# Roles that may own a lead.
SELLING = frozenset({"sales", "manager"})
MEMBER_KEYS = ("name", "email", "roles")


@dataclass(frozen=True)
class Member:
    name: str
    email: str
    roles: frozenset[str]


def parse_team(raw) -> tuple[Member, ...]:
    """The team list: each member once, and someone who can own a lead."""
    team = checks.parsed_list(raw, "team", "members with name, email and roles", _parse_member, "email")
    if not any(m.roles & SELLING for m in team):
        raise ValueError("team: needs at least one member with the role sales or manager")
    return team


def _parse_member(raw, where: str) -> Member:
    checks.mapping(raw, where, MEMBER_KEYS, required=MEMBER_KEYS)
    name = raw["name"]
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where}.name: expected the member's name")
    roles = checks.choices(raw["roles"], f"{where}.roles", ROLES, "role")
    return Member(name=name.strip(), email=checks.email(raw["email"], f"{where}.email"),
                  roles=frozenset(roles))


def seller(raw, team: tuple[Member, ...], where: str, why: str = " to own leads") -> str:
    """The address of a team member who may own leads; `why` ends the error for one who may not."""
    email = checks.email(raw, where)
    member = next((m for m in team if m.email == email), None)
    if member is None:
        raise ValueError(f"{where}: '{raw}' is not in the team")
    if not member.roles & SELLING:
        raise ValueError(f"{where}: '{raw}' needs the role sales or manager{why}")
    return email
