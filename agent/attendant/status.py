"""The lane's `omo.lane_status/1` document for the attendant station (pure): built from the screen's session
view, the visit's interventions, the components' health, the uplink and the light.

Why a document of its own and not the session view: the station needs what staff decide with (each open call's
ID, reason, detail and whether it may be decided remotely), not what the screen renders, and nothing secret
(no payment QR, no member ID). `content` leaves out the publish counter and time so the shell can compare two
states and publish only on a change.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from agent.attendant.light_rule import light_for
from agent.attendant.settings import AttendantSection
from agent.attendant.wire import STATUS_SCHEMA
from agent.session.rules.attendant_rules import help_coming
from agent.session.rules.basket import Intervention, Session

# A device that needs someone at the lane: its health reason as a call on the station's board (the receipt printer
# near the end of its roll, out of paper, its cover open; agent/receipts/printing.py). Not decided remotely.
DEVICE_CALLS = {("printer", "printer_near_end"): "printer_near_end", ("printer", "paper_out"): "printer_paper_out",
                ("printer", "cover_open"): "printer_cover_open"}

# Components the lane cannot sell without: down, the lane is out of order (a scanner is judged below).
VITAL = ("store", "session", "pipeline")


def rfc3339(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def out_of_order(view: Mapping[str, Any], devices: Mapping[str, Mapping[str, Any]]) -> bool:
    """Locked or closed, a vital component down, or every scanner down (with at least one configured)."""
    if view.get("state") == "locked" or not view.get("lane_open", True):
        return True
    if any(devices.get(name, {}).get("state") == "down" for name in VITAL):
        return True
    scanners = [d for name, d in devices.items() if name.startswith("device:")]
    return bool(scanners) and all(d.get("state") == "down" for d in scanners)


def content(*, store_id: str, lane_id: str, currency: str, heartbeat_s: int, view: Mapping[str, Any],
            session: Session, devices: Mapping[str, Mapping[str, Any]], uplink: bool,
            last_scan: Mapping[str, Any] | None, section: AttendantSection, light: bool) -> dict[str, Any]:
    """Everything but `status_seq` and `published_at`: two equal contents are the same lane state."""
    broken = out_of_order(view, devices)
    lines = {line["line_id"]: line for line in view.get("lines", [])}
    calls = [_call(session, i, lines, section) for i in session.pending] + _device_calls(view, devices)
    totals = view.get("totals", {})
    return {
        "schema": STATUS_SCHEMA, "store_id": store_id, "lane_id": lane_id, "heartbeat_s": heartbeat_s,
        "state": "out_of_order" if broken else str(view.get("state")),
        "session_id": view.get("session_id"),
        "item_count": sum(int(line["quantity"]) for line in lines.values()),
        "total": int(totals.get("amount_due", totals.get("total", 0))), "currency": currency,
        "lines": [{"line_id": line["line_id"], "gtin": line["gtin"], "name": line["name"],
                   "quantity": line["quantity"], "amount": line.get("gross", 0),
                   "age_restricted": bool(line.get("age_restricted"))} for line in lines.values()],
        "interventions": calls,
        "last_scan": None if last_scan is None else dict(last_scan),
        "devices": {name: {"state": d.get("state"), "reason": d.get("reason") or None}
                    for name, d in sorted(devices.items())},
        "uplink": "online" if uplink else "offline",
        "light": light_for(out_of_order=broken, open_calls=len(calls)) if light else "off",
        "help_coming": help_coming(session),
    }


def document(body: Mapping[str, Any], seq: int, now: float) -> dict[str, Any]:
    """The published document: the content with its counter and the lane's clock."""
    return {**body, "status_seq": seq, "published_at": rfc3339(now)}


def _device_calls(view: Mapping[str, Any], devices: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A call for each device whose health says someone must come (DEVICE_CALLS), named after the device."""
    return [{"session_id": str(view.get("session_id") or ""), "intervention_id": f"device:{name}:{reason}",
             "reason": reason, "raised_at": None, "remote_allowed": False, "detail": {"device": name},
             "acknowledged": None}
            for (name, health_reason), reason in DEVICE_CALLS.items()
            if devices.get(name, {}).get("reason") == health_reason]


def _call(session: Session, call: Intervention, lines: Mapping[str, Mapping[str, Any]],
          section: AttendantSection) -> dict[str, Any]:
    detail: dict[str, Any] = {}
    line = lines.get(call.line_id or (call.detail if call.weights else ""))
    if line is not None:
        detail.update(line_id=line["line_id"], gtin=line["gtin"], name=line["name"])
        if call.reason == "age_restricted":   # the catalog says only "age restricted": Japan's age is 20
            detail["restriction"] = "age_20"
    if call.code is not None:
        detail["code"] = call.code
    if call.reason == "payment_failures":
        detail["failed_payments"] = session.failed_payments
    if call.audit_lines:
        detail["audit_lines"] = list(call.audit_lines)
    if session.audit is not None and session.audit.intervention_id == call.intervention_id:
        # How far staff are with the rescan, so the tablet shows what is left (docs/session.md, "Random audit").
        detail["audit_rescanned"] = [unit.gtin for unit in session.audit.found]
        detail["audit_full"] = session.audit.full
    if call.weights:                          # a bagging call: what the bag should have gained, and what it did
        detail["weights"] = dict(call.weights)
    acknowledged = None if call.acknowledged_by is None else {"staff_id": call.acknowledged_by,
                                                               "at": rfc3339(call.acknowledged_at)}
    return {"session_id": session.session_id, "intervention_id": call.intervention_id, "reason": call.reason,
            "raised_at": rfc3339(call.raised_at), "remote_allowed": section.remote_allowed(call.reason),
            "detail": detail, "acknowledged": acknowledged}
