"""Roles and what each may do (permissions are checked on every page and API route)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"
    TEAM_LEADER = "team_leader"
    QUALITY_INSPECTOR = "quality_inspector"
    DEPARTMENT = "department"
    ADMIN = "admin"
    API_CLIENT = "api_client"


class Perm(StrEnum):
    DESK = "desk"  # the agent desktop: screen-pop, agent state, work list
    ORDER_CREATE = "order_create"
    ORDER_READ = "order_read"  # some orders (which ones: ORDER_READ_ALL or ORDER_READ_DEPT)
    ORDER_READ_ALL = "order_read_all"  # every order (department users see their department's only)
    ORDER_READ_DEPT = "order_read_dept"
    ORDER_ACT = "order_act"  # transitions (each transition checks its own roles too)
    KB_READ = "kb_read"
    KB_EDIT = "kb_edit"
    USERS = "users"
    RECORDINGS = "recordings"  # some recordings and voicemails (which ones: callcenter/desk/media.py)
    RECORDINGS_ALL = "recordings_all"  # every recording and voicemail (team leaders, quality, admins)
    SUPERVISE = "supervise"  # the team leader's view: front-desk on-time closure, orders near or past their limit
    SUBMIT = "submit"  # platforms sending submissions through the API
    SIGNED_IN = "signed_in"  # anyone signed in (sign out, the start page)
    KPI_READ = "kpi_read"  # the contract KPIs and the cases they counted


_READ = {Perm.ORDER_READ, Perm.SIGNED_IN}
ROLE_PERMS: dict[Role, frozenset[Perm]] = {
    Role.AGENT: frozenset({*_READ, Perm.DESK, Perm.ORDER_CREATE, Perm.ORDER_READ_ALL, Perm.ORDER_ACT, Perm.KB_READ,
                           Perm.RECORDINGS}),
    Role.TEAM_LEADER: frozenset({*_READ, Perm.DESK, Perm.ORDER_CREATE, Perm.ORDER_READ_ALL, Perm.ORDER_ACT,
                                 Perm.KB_READ, Perm.KB_EDIT, Perm.RECORDINGS, Perm.RECORDINGS_ALL, Perm.SUPERVISE,
                                 Perm.KPI_READ}),
    Role.QUALITY_INSPECTOR: frozenset({*_READ, Perm.ORDER_READ_ALL, Perm.KB_READ, Perm.RECORDINGS,
                                       Perm.RECORDINGS_ALL, Perm.KPI_READ}),
    Role.DEPARTMENT: frozenset({*_READ, Perm.ORDER_READ_DEPT, Perm.ORDER_ACT, Perm.KB_READ, Perm.RECORDINGS}),
    Role.ADMIN: frozenset(set(Perm) - {Perm.DESK, Perm.SUBMIT}),
    Role.API_CLIENT: frozenset({Perm.SUBMIT, Perm.ORDER_READ, Perm.ORDER_READ_DEPT, Perm.ORDER_ACT, Perm.KB_READ,
                                Perm.KPI_READ}),
}

# Roles that sign in with a password in a browser; api_client uses bearer tokens only.
PEOPLE = frozenset(set(Role) - {Role.API_CLIENT})


def has(role: str, perm: Perm) -> bool:
    try:
        return perm in ROLE_PERMS[Role(role)]
    except ValueError:
        return False
