"""Who may hear which recording or voicemail, and the record of every listen and download.

The policy (README, Security):

- ``recordings_all`` (team leaders, quality inspectors, admins): every recording and voicemail.
- agents: recordings of calls they took part in (answered, or a queue stay connected to them) or
  that are linked to an order assigned to them; voicemails still waiting in the intake work list
  (any agent may triage them) and those whose order is assigned to them.
- department handlers: recordings of calls linked to, and voicemails of, their department's orders.
- everyone else, and every other case: 404, as if it did not exist (linkedids are guessable).

Each granted fetch adds a row to ``access_log`` (at, actor, role, action, object kind and id, address).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.auth.models import AccessLog
from callcenter.auth.roles import Perm, Role, has
from callcenter.auth.services import Actor
from callcenter.store.models import Call, QueueEntry, Recording, Voicemail
from callcenter.workorders.models import WorkOrder, WorkOrderCall


def _own_orders(actor: Actor) -> list[str]:
    return [x for x in (actor.agent_id, actor.username) if x]


def may_hear_call(session: Session, actor: Actor, linkedid: str) -> bool:
    """True when ``actor`` may fetch the recording of call ``linkedid``."""
    if has(actor.role, Perm.RECORDINGS_ALL):
        return True
    if actor.role == Role.DEPARTMENT:
        if not actor.department:
            return False
        return session.scalar(select(WorkOrderCall.id).join(WorkOrder, WorkOrder.id == WorkOrderCall.order_id).where(
            WorkOrderCall.linkedid == linkedid, WorkOrder.department == actor.department).limit(1)) is not None
    if not has(actor.role, Perm.RECORDINGS):
        return False
    if actor.agent_id:
        if session.scalar(select(Call.linkedid).where(Call.linkedid == linkedid,
                                                      Call.answered_by == actor.agent_id)) is not None:
            return True
        if session.scalar(select(QueueEntry.id).where(QueueEntry.linkedid == linkedid,
                                                      QueueEntry.agent == actor.agent_id).limit(1)) is not None:
            return True
    return session.scalar(select(WorkOrderCall.id).join(WorkOrder, WorkOrder.id == WorkOrderCall.order_id).where(
        WorkOrderCall.linkedid == linkedid, WorkOrder.agent.in_(_own_orders(actor))).limit(1)) is not None


def may_hear_voicemail(session: Session, actor: Actor, vm: Voicemail) -> bool:
    """True when ``actor`` may fetch voicemail ``vm``'s audio."""
    if has(actor.role, Perm.RECORDINGS_ALL):
        return True
    orders = select(WorkOrder.id).where(WorkOrder.voicemail_id == vm.id)
    if actor.role == Role.DEPARTMENT:
        return bool(actor.department) and session.scalar(
            orders.where(WorkOrder.department == actor.department).limit(1)) is not None
    if not has(actor.role, Perm.RECORDINGS):
        return False
    if vm.status == "new" and has(actor.role, Perm.DESK):
        return True  # in the intake work list: any agent may listen before taking it
    return session.scalar(orders.where(WorkOrder.agent.in_(_own_orders(actor))).limit(1)) is not None


def recording_path(session: Session, actor: Actor, linkedid: str) -> str | None:
    """The recording's path when the call has one and ``actor`` may hear it; None otherwise (→ 404)."""
    path = session.scalar(select(Recording.path).where(Recording.linkedid == linkedid).limit(1))
    if path is None or not may_hear_call(session, actor, linkedid):
        return None
    return path


def voicemail_path(session: Session, actor: Actor, vm_id: str) -> str | None:
    vm = session.get(Voicemail, vm_id)
    if vm is None or not may_hear_voicemail(session, actor, vm):
        return None
    return vm.path


def log_access(session: Session, actor: Actor, action: str, kind: str, object_id: str, address: str) -> None:
    """One ``access_log`` row: ``action`` is listen (played in the page) or download."""
    session.add(AccessLog(actor=actor.username[:64], role=actor.role[:24], action=action[:16], object_kind=kind[:16],
                          object_id=object_id[:64], address=address[:64]))
