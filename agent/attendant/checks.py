"""What the lane checks of a station's command after its signature (pure): that it is for this lane, from a
station it takes commands from, by a member of staff whose own token holds, with the role the action needs, and
about a call that may be decided remotely. The first failure is the answer; a refusal changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.attendant.settings import AttendantSection
from agent.attendant.wire import CommandClaims
from agent.interpret.tokens import Claims, TokenRejected
from agent.session.rules.basket import Session, intervention

DECIDING = ("approve", "reject")
NAMING_A_CALL = ("approve", "reject", "coming")


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str
    message: str


def lane_refusal(command: CommandClaims, store_id: str, lane_id: str,
                 section: AttendantSection) -> Refused | None:
    if (command.store_id, command.lane_id) != (store_id, lane_id):
        return Refused("wrong_lane", f"this is {store_id}/{lane_id}, the command is for "
                       f"{command.store_id}/{command.lane_id}")
    if section.station_ids and command.station_id not in section.station_ids:
        return Refused("unknown_key", f"station {command.station_id!r} is not in [attendant] station_ids")
    return None


def staff_refusal(command: CommandClaims, staff: Claims | TokenRejected) -> Refused | None:
    """The embedded staff token: verified like one scanned at the lane; voiding a paid sale needs a supervisor."""
    if isinstance(staff, TokenRejected):
        return Refused("staff_token", f"the staff token was refused: {staff.reason}")
    if command.action == "void_sale" and staff.role != "supervisor":
        return Refused("role", f"voiding a paid sale needs a supervisor; {staff.sub} is {staff.role}")
    return None


def target_refusal(command: CommandClaims, session: Session, section: AttendantSection) -> Refused | None:
    """The visit, call, line or sale the command names: there, and (for a decision) decidable remotely."""
    action = command.action
    if action in ("lock", "unlock"):
        return None
    if action == "void_sale":
        return None if command.sale_id else Refused("not_applicable", "void_sale needs a sale_id")
    if command.session_id is None or command.session_id != session.session_id:
        return Refused("no_such_intervention" if action in NAMING_A_CALL else "not_applicable",
                       f"the lane's visit is {session.session_id or 'none'}, not {command.session_id}")
    if action == "void_line" and (command.line_id is None or session.line(command.line_id) is None):
        return Refused("not_applicable", f"no line {command.line_id} in this visit")
    if action not in NAMING_A_CALL:
        return None
    call = None if command.intervention_id is None else intervention(session, command.intervention_id)
    if call is None:
        return Refused("no_such_intervention", f"no intervention {command.intervention_id} in this visit")
    if action in DECIDING and call.status == "pending" and not section.remote_allowed(call.reason):
        return Refused("at_lane_only", f"{call.reason} is decided at the lane ([attendant.remote] "
                       f"{call.reason} = \"at_lane\"): someone must see the shopper")
    return None
