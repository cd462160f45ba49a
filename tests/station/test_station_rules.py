"""The station's pure rules: the board (oldest call first, stale by receive time, retained by published_at),
sessions (idle and absolute expiry), staff roles, and what the station refuses to send."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from agent.interpret.tokens import load_keys
from agent.station import commands
from agent.station.board import Board, iso
from agent.station.staff import LoginRefused, Sessions, Staff, verify_staff
from simulators.cloud.tokens import TokenIssuer

T0 = 1_765_100_000.0


def status(lane: str, *, seq: int = 1, at: float = T0, calls: list[dict[str, Any]] | None = None,
           heartbeat_s: int = 30, **extra: Any) -> dict[str, Any]:
    return {"schema": "omo.lane_status/1", "store_id": "store-001", "lane_id": lane, "status_seq": seq,
            "published_at": iso(at), "heartbeat_s": heartbeat_s, "state": "scanning", "session_id": "V1",
            "item_count": 1, "total": 330, "currency": "JPY", "lines": [], "interventions": calls or [],
            "help_coming": None, **extra}


def call(iid: str, raised: float, reason: str = "unknown_item", **extra: Any) -> dict[str, Any]:
    return {"session_id": "V1", "intervention_id": iid, "reason": reason, "raised_at": iso(raised),
            "remote_allowed": True, "detail": {}, "acknowledged": None, **extra}


def test_lanes_with_calls_come_first_oldest_call_on_top() -> None:
    board = Board("store-001")
    board.status("lane-01", status("lane-01"), T0)
    board.status("lane-02", status("lane-02", calls=[call("I1", T0 + 5)]), T0 + 5)
    board.status("lane-03", status("lane-03", calls=[call("I1", T0 + 2)]), T0 + 5)
    view = board.view(T0 + 10, "station-1")
    assert [t["lane_id"] for t in view["lanes"]] == ["lane-03", "lane-02", "lane-01"]
    assert view["lanes"][0]["calls"][0]["waiting_s"] == 8.0


def test_stale_after_heartbeat_times_one_and_a_half_plus_grace_by_receive_time() -> None:
    board = Board("store-001")
    board.status("lane-01", status("lane-01", at=T0 - 3600), T0)   # the lane's clock is an hour behind
    assert not board.is_stale("lane-01", T0 + 46)
    assert board.is_stale("lane-01", T0 + 48)
    assert board.tile("lane-01", T0 + 48)["shown_state"] == "stale"


def test_a_retained_status_counts_from_when_it_was_published() -> None:
    board = Board("store-001")
    board.status("lane-01", status("lane-01", at=T0 - 600), T0, retained=True)
    assert board.is_stale("lane-01", T0)
    board.status("lane-02", status("lane-02", at=T0 - 1), T0, retained=True)
    assert not board.is_stale("lane-02", T0)


def test_another_stores_status_and_a_foreign_document_are_ignored() -> None:
    board = Board("store-001")
    board.status("lane-01", {**status("lane-01"), "store_id": "store-002"}, T0)
    board.status("lane-02", {"schema": "something/1"}, T0)
    assert board.lane_ids() == []


def test_the_will_marks_a_lane_offline_and_the_broker_loss_is_on_the_board() -> None:
    board = Board("store-001")
    board.status("lane-01", status("lane-01"), T0)
    board.presence("lane-01", False)
    assert board.tile("lane-01", T0)["shown_state"] == "offline"
    board.broker(False, T0 + 1)
    board.broker(False, T0 + 2)
    view = board.view(T0 + 3, "s")
    assert view["broker"] == "lost" and view["broker_lost_at"] == iso(T0 + 1)


def test_after_the_broker_comes_back_a_lane_is_stale_until_it_is_heard_again() -> None:
    """Killed without persistence, the broker forgets every subscription: until a lane has reconnected (and said
    its status again), a command to it goes nowhere, so its tile must not look fine on what was known before."""
    board = Board("store-001")
    board.status("lane-01", status("lane-01", calls=[call("I1", T0)]), T0)
    board.status("lane-02", status("lane-02"), T0)
    board.broker(False, T0 + 1)
    board.broker(True, T0 + 3)
    assert board.tile("lane-01", T0 + 4)["shown_state"] == "stale"
    assert board.tile("lane-01", T0 + 4)["calls"], "the call it had is still shown"
    board.status("lane-01", status("lane-01", seq=2, at=T0 + 5, calls=[call("I1", T0)]), T0 + 5)
    assert board.tile("lane-01", T0 + 6)["shown_state"] == "scanning"
    board.status("lane-02", status("lane-02", at=T0 + 0.5), T0 + 6, retained=True)   # the broker kept an old one
    assert board.tile("lane-02", T0 + 6)["shown_state"] == "stale"


def test_call_changes_give_wait_and_resolve_times() -> None:
    board = Board("store-001")
    assert [c.kind for c in board.status("lane-01", status("lane-01", calls=[call("I1", T0)]), T0)] == ["raised"]
    acked = board.status("lane-01", status("lane-01", calls=[call("I1", T0)], help_coming={"staff_id": "S"}), T0 + 4)
    assert [(c.kind, c.seconds) for c in acked] == [("acknowledged", 4.0)]
    done = board.status("lane-01", status("lane-01"), T0 + 9)
    assert [(c.kind, c.seconds) for c in done] == [("resolved", 9.0)]


@pytest.fixture
def issuer(tmp_path: Path) -> TokenIssuer:
    issuer = TokenIssuer(kid="staff-test")
    issuer.write_public_key(tmp_path)
    return issuer


def test_staff_roles_default_to_staff_and_names_are_shown(issuer: TokenIssuer) -> None:
    assert issuer.key_path is not None
    keys = load_keys([issuer.key_path])
    staff = verify_staff(issuer.staff("S-1"), keys, time.time())
    assert isinstance(staff, Staff) and staff.role == "staff" and staff.name == "S-1"
    boss = verify_staff(issuer.staff("S-2", role="supervisor", name="Ito"), keys, time.time())
    assert isinstance(boss, Staff) and (boss.role, boss.name) == ("supervisor", "Ito")
    refused = verify_staff(issuer.staff("S-3", role="owner"), keys, time.time())
    assert isinstance(refused, LoginRefused)


def staff(role: str = "staff", exp: float = T0 + 86400) -> Staff:
    return Staff("S-1", "Sato", role, "token", int(exp))


def test_a_session_ends_when_idle_too_long_or_too_old_or_when_the_badge_expires() -> None:
    sessions = Sessions(ttl_s=3600, idle_s=600)
    sid = sessions.open(staff(), T0)
    assert sessions.get(sid, T0 + 599) is not None
    assert sessions.get(sid, T0 + 1198) is not None           # each request refreshes the idle timer
    assert sessions.get(sid, T0 + 1799) is None               # 601 s idle
    long_lived = sessions.open(staff(), T0)
    for minute in range(1, 61):
        assert sessions.get(long_lived, T0 + minute * 59) is not None
    assert sessions.get(long_lived, T0 + 3601) is None        # absolute expiry even when busy
    short = sessions.open(staff(exp=T0 + 100), T0)
    assert sessions.get(short, T0 + 101) is None
    assert not sessions.alive("nope", T0) and sessions.get(None, T0) is None


def test_the_station_refuses_before_sending_what_the_lane_would_refuse() -> None:
    kw: dict[str, Any] = {"store_id": "s", "lane_id": "l", "station_id": "st", "now": T0, "ttl_s": 10}
    assert isinstance(commands.claims({"action": "dance"}, staff(), **kw), commands.Refusal)
    missing = commands.claims({"action": "approve", "session_id": "V1"}, staff(), **kw)
    assert isinstance(missing, commands.Refusal) and "intervention_id" in missing.message
    role = commands.claims({"action": "void_sale", "sale_id": "X"}, staff(), **kw)
    assert isinstance(role, commands.Refusal) and role.status == 403
    ok = commands.claims({"action": "void_sale", "sale_id": "X"}, staff("supervisor"), **kw)
    assert not isinstance(ok, commands.Refusal)
    assert (ok.exp - ok.iat, ok.staff_token, ok.action) == (10, "token", "void_sale")
