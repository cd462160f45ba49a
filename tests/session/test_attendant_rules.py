"""The attendant's answers by intervention ID, "help is coming", and the omo.attendant/1 events (pure)."""

from __future__ import annotations

from dataclasses import replace

from agent.session.rules import action_rules
from agent.session.rules.attendant_rules import attendant_events, coming, help_coming, settled
from agent.session.rules.basket import Session, add_intervention, new_session
from agent.session.rules.machine import SessionState
from agent.session.settings import SessionSection

SETTINGS = SessionSection()


def waiting(*reasons: str, at: float = 100.0) -> Session:
    """A visit waiting for staff with one open intervention per reason (I1, I2, ...), raised at `at`."""
    session = replace(new_session("V1", at, True), state=SessionState.NEEDS_ATTENDANT,
                      state_before_attendant=SessionState.SCANNING)
    for reason in reasons:
        session = add_intervention(session, reason, None, code="4900000000000" if reason == "unknown_item" else None)
    return session


def test_approve_by_id_resolves_that_intervention_not_the_oldest() -> None:
    session = waiting("unknown_item", "random_audit")
    change = action_rules.resolve(session, approved=True, staff_id="S-1", settings=SETTINGS, now=105.0,
                                  intervention_id="I2", via="station")
    assert change.ok
    statuses = {i.intervention_id: (i.status, i.staff_id, i.via) for i in change.session.interventions}
    assert statuses == {"I1": ("pending", None, None), "I2": ("approved", "S-1", "station")}
    assert change.session.state is SessionState.NEEDS_ATTENDANT      # I1 still waits


def test_a_second_decision_on_a_resolved_intervention_says_who_and_when_and_changes_nothing() -> None:
    session = waiting("unknown_item")
    first = action_rules.resolve(session, approved=True, staff_id="S-1", settings=SETTINGS, now=105.0,
                                 intervention_id="I1", via="station")
    second = action_rules.resolve(first.session, approved=False, staff_id="S-2", settings=SETTINGS, now=106.0,
                                  intervention_id="I1", via="station")
    assert second.refused == "already_resolved"
    assert "approved by S-1 at 1970-01-01T00:01:45.000Z" in second.session.prompts[0].message
    assert second.session.interventions == first.session.interventions and not second.events


def test_an_unknown_intervention_is_refused() -> None:
    refused = settled(waiting("unknown_item"), "I9")
    assert refused is not None and refused.refused == "no_such_intervention"


def test_coming_acknowledges_once_and_tells_the_shopper() -> None:
    change = coming(waiting("age_restricted"), intervention_id="I1", staff_id="S-1", name="Sato", now=103.0)
    assert change.ok and change.session.prompts[0].code == "help_coming"
    assert change.session.prompts[0].args == {"name": "Sato"}
    again = coming(change.session, intervention_id="I1", staff_id="S-2", name=None, now=104.0)
    assert again.session.interventions[0].acknowledged_by == "S-1"
    assert help_coming(again.session) == {"staff_id": "S-1", "name": "Sato", "intervention_id": "I1",
                                         "at": "1970-01-01T00:01:43.000Z"}


def test_events_raised_acknowledged_and_resolved_with_their_waits() -> None:
    before = new_session("V1", 100.0, True)
    raised = waiting("unknown_item")
    assert [b["event"] for _, _, b in attendant_events(before, raised)] == ["call_raised"]
    acked = coming(raised, intervention_id="I1", staff_id="S-1", name=None, now=102.5).session
    (_, schema, ack), = attendant_events(raised, acked)
    assert schema == "omo.attendant/1" and (ack["event"], ack["waited_ms"], ack["via"]) == \
        ("call_acknowledged", 2500, "station")
    done = action_rules.resolve(acked, approved=False, staff_id="S-1", settings=SETTINGS, now=104.0,
                                intervention_id="I1", via="station").session
    (_, _, resolved), = attendant_events(acked, done)
    assert (resolved["event"], resolved["decision"], resolved["waited_ms"], resolved["first_response"]) == \
        ("call_resolved", "rejected", 4000, False)


def test_a_staff_code_at_the_lane_still_resolves_the_oldest_via_the_lane() -> None:
    session = waiting("unknown_item", "random_audit")
    change = action_rules.resolve(session, approved=True, staff_id="S-1", settings=SETTINGS, now=101.0)
    assert change.session.interventions[0].via == "lane" and change.session.interventions[1].status == "pending"
    (_, _, event), = attendant_events(session, change.session)
    assert (event["via"], event["first_response"]) == ("lane", True)
