"""The station's picture of the store: one entry per lane from its retained status, which calls are open, and
which lanes have gone quiet. Pure: every method is given the time, so the rules are tested without a broker.

Freshness is judged by the station's own receive time (the lane's clock may be wrong), except for a retained
message delivered at subscribe time, which may be hours old: that one counts from its `published_at`.
A lane is stale when not heard from for more than its `heartbeat_s` x 1.5 plus a small grace, and is then never
shown as fine. When the broker is lost, the whole board says so (`broker` = "lost") and keeps what it knew; once it
is back, a lane stays stale until it is heard from after the loss (a broker restarted without persistence has
forgotten its subscriptions, so a command to a lane that has not reconnected yet would go nowhere).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

STALE_FACTOR = 1.5
STALE_GRACE_S = 2.0
DEFAULT_HEARTBEAT_S = 30.0


def parse_time(text: object) -> float | None:
    """RFC 3339 text as epoch seconds, or None when absent or unreadable (never an exception from a lane)."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class CallChange:
    """A call seen raised, first answered by staff, or resolved: what the station's histograms record."""

    kind: str            # "raised" | "acknowledged" | "resolved"
    lane_id: str
    reason: str
    seconds: float       # since the call was raised


@dataclass(frozen=True, slots=True)
class _Lane:
    status: Mapping[str, Any]
    heard_at: float
    online: bool = True


@dataclass(frozen=True, slots=True)
class _Call:
    reason: str
    raised_at: float
    answered: bool


@dataclass(slots=True)
class Board:
    """Every lane of one store as last heard, and the open calls across them."""

    store_id: str
    broker_up: bool = False
    broker_lost_at: float | None = None
    last_loss_at: float = 0.0           # when the broker was last lost: a lane heard before that is unconfirmed
    _lanes: dict[str, _Lane] = field(default_factory=dict)
    _calls: dict[tuple[str, str, str], _Call] = field(default_factory=dict)

    def status(self, lane_id: str, document: Mapping[str, Any], received_at: float,
               retained: bool = False) -> list[CallChange]:
        """Take a lane's `omo.lane_status/1`; return the call changes it brings."""
        if document.get("schema") != "omo.lane_status/1" or document.get("store_id") != self.store_id:
            return []
        heard_at = received_at
        if retained:
            published = parse_time(document.get("published_at"))
            heard_at = min(received_at, published) if published is not None else 0.0
        previous = self._lanes.get(lane_id)
        online = previous.online if previous is not None and previous.heard_at > heard_at else True
        self._lanes[lane_id] = _Lane(status=document, heard_at=heard_at, online=online)
        return self._track_calls(lane_id, document, received_at)

    def presence(self, lane_id: str, online: bool) -> None:
        """The lane's own birth/will (`online` / `offline` on `{store}/{lane}/status`)."""
        lane = self._lanes.get(lane_id)
        if lane is not None:
            self._lanes[lane_id] = _Lane(lane.status, lane.heard_at, online)

    def broker(self, connected: bool, at: float) -> None:
        self.broker_up = connected
        self.broker_lost_at = None if connected else (self.broker_lost_at or at)
        if not connected:
            self.last_loss_at = self.broker_lost_at or at

    def _track_calls(self, lane_id: str, document: Mapping[str, Any], now: float) -> list[CallChange]:
        changes: list[CallChange] = []
        open_now: set[tuple[str, str, str]] = set()
        help_coming = bool(document.get("help_coming"))
        for call in _interventions(document):
            key = (lane_id, str(call.get("session_id")), str(call.get("intervention_id")))
            open_now.add(key)
            raised = parse_time(call.get("raised_at")) or now
            answered = help_coming or bool(call.get("acknowledged"))
            known = self._calls.get(key)
            if known is None:
                known = self._calls[key] = _Call(str(call.get("reason")), raised, False)
                changes.append(CallChange("raised", lane_id, known.reason, 0.0))
            if answered and not known.answered:
                known = self._calls[key] = _Call(known.reason, known.raised_at, True)
                changes.append(CallChange("acknowledged", lane_id, known.reason, max(0.0, now - known.raised_at)))
        for key in [k for k in self._calls if k[0] == lane_id and k not in open_now]:
            gone = self._calls.pop(key)
            waited = max(0.0, now - gone.raised_at)
            if not gone.answered:
                changes.append(CallChange("acknowledged", lane_id, gone.reason, waited))
            changes.append(CallChange("resolved", lane_id, gone.reason, waited))
        return changes

    def is_stale(self, lane_id: str, now: float) -> bool:
        lane = self._lanes[lane_id]
        heartbeat = _number(lane.status.get("heartbeat_s"), DEFAULT_HEARTBEAT_S)
        return now - lane.heard_at > heartbeat * STALE_FACTOR + STALE_GRACE_S or lane.heard_at < self.last_loss_at

    def lane_ids(self) -> list[str]:
        return sorted(self._lanes)

    def basket(self, lane_id: str) -> dict[str, Any] | None:
        """The lane's current lines and total, on demand (kept off the live view to keep it small)."""
        lane = self._lanes.get(lane_id)
        if lane is None:
            return None
        status = lane.status
        return {"lane_id": lane_id, "session_id": status.get("session_id"), "lines": list(status.get("lines") or []),
                "item_count": status.get("item_count", 0), "total": status.get("total", 0),
                "currency": status.get("currency", "JPY")}

    def counts(self, now: float) -> dict[str, int]:
        """Lanes by the state the page shows ("stale" and "offline" before the lane's own)."""
        counts: dict[str, int] = {}
        for lane_id in self._lanes:
            state = str(self.tile(lane_id, now)["shown_state"])
            counts[state] = counts.get(state, 0) + 1
        return counts

    def tile(self, lane_id: str, now: float) -> dict[str, Any]:
        lane = self._lanes[lane_id]
        status = lane.status
        calls = sorted((_call_view(c, now) for c in _interventions(status)), key=lambda c: c["raised_at"] or "")
        stale = self.is_stale(lane_id, now)
        shown = "offline" if not lane.online else "stale" if stale else str(status.get("state", "unknown"))
        return {"lane_id": lane_id, "state": status.get("state"), "shown_state": shown, "stale": stale,
                "online": lane.online, "heard_at": iso(lane.heard_at), "status_seq": status.get("status_seq"),
                "session_id": status.get("session_id"), "item_count": status.get("item_count", 0),
                "total": status.get("total", 0), "currency": status.get("currency", "JPY"),
                "light": status.get("light"), "uplink": status.get("uplink"),
                "help_coming": status.get("help_coming"), "devices": status.get("devices") or {},
                "last_scan": status.get("last_scan"), "calls": calls,
                "oldest_call_at": calls[0]["raised_at"] if calls else None}

    def view(self, now: float, station_id: str) -> dict[str, Any]:
        """What the page draws: lanes with an open call first, oldest call on top, then the rest by ID."""
        tiles = [self.tile(lane_id, now) for lane_id in self._lanes]
        tiles.sort(key=lambda t: (t["oldest_call_at"] is None, t["oldest_call_at"] or "", t["lane_id"]))
        return {"store_id": self.store_id, "station_id": station_id, "now": iso(now),
                "broker": "connected" if self.broker_up else "lost",
                "broker_lost_at": iso(self.broker_lost_at) if self.broker_lost_at is not None else None,
                "lanes": tiles}


def _interventions(status: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    calls = status.get("interventions")
    return [c for c in calls if isinstance(c, Mapping)] if isinstance(calls, list) else []


def _number(value: object, default: float) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 else default


def _call_view(call: Mapping[str, Any], now: float) -> dict[str, Any]:
    raised = parse_time(call.get("raised_at"))
    return {"session_id": call.get("session_id"), "intervention_id": call.get("intervention_id"),
            "reason": call.get("reason"), "raised_at": iso(raised) if raised is not None else None,
            "waiting_s": round(max(0.0, now - raised), 1) if raised is not None else None,
            "remote_allowed": bool(call.get("remote_allowed")), "detail": call.get("detail") or {},
            "acknowledged": call.get("acknowledged")}
