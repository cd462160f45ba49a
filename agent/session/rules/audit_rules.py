"""The random audit on the visit (pure): drawn before payment, rescans counted, the result, the correction.

Before payment the policy's chance is drawn (agent/session/rules/audit_policy.py); an audited visit waits in
`needs_attendant` with a `random_audit` intervention naming the k lines to rescan. While it is open, every
product scanned at the lane is an audit scan (staff rescanning with the lane's scanner), never a basket scan.
Staff end it with their code (or from the station): the audited lines and the units rescanned are compared as
multisets (agent/session/rules/audit.py). A difference in a partial rescan first widens it to every line when
the policy says so; at the end an approval adds what was missing to the basket (lines of their own, priced by
the one engine like any line), a rejection adds nothing. Either way an `omo.audit/1` event says what was found
and the screen and the receipt show the difference.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from agent.catalog.records import OfflinePolicy
from agent.session.rules import audit_policy, machine
from agent.session.rules.audit import Difference, as_event, compare, counts
from agent.session.rules.basket import (
    AuditRun,
    BasketLine,
    Intervention,
    Prompt,
    Session,
    add_intervention,
    add_item,
    with_prompt,
)
from agent.session.rules.machine import Refusal
from agent.session.rules.state_step import advance
from agent.session.rules.visit_change import Change, EventRow, refuse, session_event, touched
from agent.session.settings import SessionSection

AUDIT_SCHEMA = "omo.audit/1"


def risk(session: Session, amount: int) -> audit_policy.RiskFacts:
    """What the policy weighs for this basket: its value, units, restriction and the member's history."""
    member = session.member
    return audit_policy.RiskFacts(
        basket_value=amount, items=sum(line.quantity for line in session.active_lines),
        restricted=any(line.age_restricted for line in session.active_lines),
        member=member is not None, member_days=None if member is None else member.tenure_days,
        audits=0 if member is None else member.audits,
        audit_findings=0 if member is None else member.audit_findings)


def start(session: Session, amount: int, draw: float, policy: OfflinePolicy, settings: SessionSection,
          now: float) -> Change | None:
    """The audit this payment request draws, or None when the visit is not audited (once per visit)."""
    if session.audited or not session.active_lines:
        return None
    bp = audit_policy.probability_bp(policy, risk(session, amount), settings.audit_rate)
    if not audit_policy.audited(draw, bp):
        return None
    moved = advance(replace(session, audited=True), machine.AttendantNeeded("random_audit"),
                    settings.max_failed_payments)
    if isinstance(moved, Refusal):
        return None
    lines = audit_policy.pick_lines(session.session_id, tuple(line.line_id for line in session.active_lines),
                                    policy.audit_lines)
    checked = add_intervention(moved[0], "random_audit", None, raised_at=now, audit_lines=lines)
    call = checked.interventions[-1]
    checked = replace(checked, audit=AuditRun(call.intervention_id, lines, bp, policy.audit_full_on_mismatch,
                                              full=len(lines) == len(session.active_lines)))
    checked = with_prompt(checked, Prompt("attendant_random_audit", "A member of staff will check your basket "
                                          "before you pay. Thank you for waiting.", "warning",
                                          {"lines": str(len(lines))}))
    return Change(checked, (session_event(checked, "attendant_requested", reason="random_audit",
                                          intervention_id=call.intervention_id),), refused="random_audit")


def open_run(session: Session) -> AuditRun | None:
    """The visit's audit while staff are rescanning (its intervention still pending)."""
    run = session.audit
    if run is None or run.result != "open":
        return None
    pending = any(i.intervention_id == run.intervention_id for i in session.pending)
    return run if pending else None


def rescanned(session: Session, unit: BasketLine | Prompt, gtin: str, now: float) -> Change:
    """A product scanned while the audit is open: counted as rescanned, the basket untouched."""
    run = open_run(session)
    assert run is not None, "rescanned() is only called while an audit is open"
    fields = {"session_id": session.session_id, "outcome": "audit", "reason": "random_audit"}
    if isinstance(unit, Prompt):
        return refuse(session, unit.code, unit.message, **fields)
    run = replace(run, found=(*run.found, unit))
    after = replace(touched(session, now), audit=run)
    return Change(with_prompt(after, Prompt("audit_rescanned", f"Checked {len(run.found)} item(s).", "info",
                                            {"count": str(len(run.found)), "gtin": gtin})), scan_fields=fields)


def basket_counts(session: Session, run: AuditRun) -> dict[str, int]:
    lines = [session.line(line_id) for line_id in run.lines]
    return counts((line.gtin, _units(line)) for line in lines if line is not None and not line.voided)


def found_counts(run: AuditRun) -> dict[str, int]:
    return counts((unit.gtin, _units(unit)) for unit in run.found)


def _units(line: BasketLine) -> int:
    return 1 if line.fixed_amount is not None else line.quantity


def widened(session: Session, approved: bool, intervention_id: str | None, now: float) -> Change | None:
    """Staff ending a partial rescan that found a difference, under `audit_full_on_mismatch`: the audit
    goes on over every line instead (None when that is not the case: the audit ends as asked)."""
    run = open_run(session)
    if (run is None or not approved or run.full or not run.full_on_mismatch
            or intervention_id not in (None, run.intervention_id)
            or session.pending[0].intervention_id != run.intervention_id
            or not compare(basket_counts(session, run), found_counts(run))):
        return None
    lines = tuple(line.line_id for line in session.active_lines)
    after = replace(touched(session, now), audit=replace(run, lines=lines, full=True),
                    interventions=tuple(replace(i, audit_lines=lines) if i.intervention_id == run.intervention_id
                                        else i for i in session.interventions))
    prompt = Prompt("audit_full_rescan", "A difference was found: staff will check every item.", "warning",
                    {"lines": str(len(lines))})
    return Change(with_prompt(after, prompt), (session_event(after, "audit_widened",
                                                             intervention_id=run.intervention_id),))


def closed(after: Session, done: Intervention, staff_id: str) -> tuple[Session, tuple[EventRow, ...]]:
    """The audit's intervention was just resolved: its result, what an approval adds, its event and prompt."""
    run = after.audit
    if run is None or run.intervention_id != done.intervention_id or run.result != "open":
        return after, ()
    basket, found = basket_counts(after, run), found_counts(run)
    differences = compare(basket, found)
    added: list[BasketLine] = []
    if done.status == "approved":
        for difference in differences:
            after, lines = _add_missing(after, run, difference)
            added.extend(lines)
    run = replace(run, result="mismatch" if differences else "match", differences=differences,
                  added=tuple(line.line_id for line in added))
    after = replace(after, audit=run)
    body: dict[str, Any] = {
        "session_id": after.session_id, "intervention_id": run.intervention_id,
        "result": run.result, "outcome": done.status, "staff_id": staff_id, "full": run.full,
        "probability_bp": run.probability_bp, "lines": list(run.lines),
        "basket": [{"gtin": g, "quantity": n} for g, n in sorted(basket.items())],
        "found": [{"gtin": g, "quantity": n} for g, n in sorted(found.items())],
        "differences": as_event(differences),
        "added": [{"line_id": line.line_id, "gtin": line.gtin, "quantity": line.quantity} for line in added]}
    if after.member is not None:
        body["member_id"] = after.member.member_id
    return with_prompt(after, result_prompt(run)), (("sessions", AUDIT_SCHEMA, body),)


def _add_missing(session: Session, run: AuditRun, difference: Difference) -> tuple[Session, list[BasketLine]]:
    """What was found above the basket's count, as lines of their own at the price the rescan read: one line
    for the extra units of an item, one per label for weighed or price-embedded ones (each at its amount)."""
    if difference.extra <= 0:
        return session, []
    units = [u for u in run.found if u.gtin == difference.gtin]
    if units[0].fixed_amount is None:
        session, line = add_item(session, replace(units[0], quantity=difference.extra), merge=False)
        return session, [line]
    # Labels matching an audited line's amount are that line's; the others are what was not scanned.
    audited = [session.line(line_id) for line_id in run.lines]
    kept = [b.fixed_amount for b in audited if b is not None and not b.voided and b.gtin == difference.gtin]
    extra: list[BasketLine] = []
    for unit in units:
        if unit.fixed_amount in kept:
            kept.remove(unit.fixed_amount)
        else:
            extra.append(unit)
    added: list[BasketLine] = []
    for unit in extra[-difference.extra:]:
        session, line = add_item(session, unit, merge=False)
        added.append(line)
    return session, added


def result_prompt(run: AuditRun) -> Prompt:
    """The screen's line for the result: thanks for a match, the difference and what was added otherwise."""
    if run.result == "match":
        return Prompt("audit_match", "Thank you: your basket was checked. Please carry on.", "info")
    added = sum(1 for _ in run.added)
    return Prompt("audit_difference", f"Staff found {len(run.differences)} difference(s) in the check; "
                  f"{added} line(s) were added to your basket.", "warning",
                  {"differences": str(len(run.differences)), "added": str(added)})


def receipt_lines(session: Session) -> list[dict[str, Any]]:
    """The receipt's audit lines: one per difference found, saying what staff added."""
    run = session.audit
    if run is None or run.result != "mismatch":
        return []
    return [{"label": f"Audit: {d.kind.replace('_', ' ')}", **row}
            for d, row in zip(run.differences, as_event(run.differences), strict=True)]
