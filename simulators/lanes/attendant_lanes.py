"""N fake lanes speaking the lane's side of the attendant contract on a real broker, for the station's tests and
bench: 8..64 lanes without 64 daemons.

Each lane keeps a retained `omo.lane_status/1` (published on change, and re-published after `heartbeat_s` of
silence), its birth/will presence, and answers commands as the contract says: the station's signature and the
staff token checked with agent/attendant/wire.py and agent/interpret/tokens.py, replays refused, and the first
decision on a call wins (a later one answers `already_resolved` with who and when). One paho connection carries
every lane (the station cannot tell, and a bench of 64 lanes then costs one thread).
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent.attendant import wire
from agent.interpret import tokens


def now_iso(at: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if at is None else at, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class FakeLane:
    lane_id: str
    state: str = "idle"
    session_id: str | None = None
    lines: list[dict[str, Any]] = field(default_factory=list)
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)              # open interventions
    resolved: dict[str, dict[str, Any]] = field(default_factory=dict)           # id -> who, when, decision
    help_coming: dict[str, Any] | None = None
    seq: int = 0
    silent: bool = False
    last_published: float = 0.0
    applied: list[dict[str, Any]] = field(default_factory=list)                 # every command applied, in order
    applied_at: list[float] = field(default_factory=list)                       # when each was (time.time())


class AttendantLanes:
    """`lanes` fake lanes of `store_id` on the broker at host:port; start(), raise_call(), stop()."""

    def __init__(self, host: str, port: int, store_id: str, lane_ids: Iterable[str], *,
                 station_keys: Iterable[Path], staff_keys: Iterable[Path], prefix: str = "omo/v1",
                 heartbeat_s: float = 30.0, remote: Mapping[str, str] | None = None, protocol: str = "5") -> None:
        self.host, self.port, self.store_id, self.prefix = host, port, store_id, prefix
        self.heartbeat_s = heartbeat_s
        self.remote = {"age_restricted": "at_lane", **(remote or {})}
        self.station_keys = tokens.load_keys(station_keys)
        self.staff_keys = tokens.load_keys(staff_keys)
        self.lanes = {lane_id: FakeLane(lane_id) for lane_id in lane_ids}
        self.seen: set[str] = set()
        self.replies: list[dict[str, Any]] = []
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._connected = threading.Event()
        version = MQTTProtocolVersion.MQTTv5 if protocol == "5" else MQTTProtocolVersion.MQTTv311
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"fake-lanes-{uuid.uuid4().hex[:8]}",
                                   protocol=version)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_disconnect = lambda *_: self._connected.clear()
        self._ticker = threading.Thread(target=self._heartbeats, name="fake-lanes-heartbeat", daemon=True)

    def start(self, timeout_s: float = 10.0) -> None:
        self._client.reconnect_delay_set(0.2, 2)
        self._client.connect_async(self.host, self.port, 30)
        self._client.loop_start()
        if not self._connected.wait(timeout_s):
            raise TimeoutError(f"fake lanes could not reach the broker at {self.host}:{self.port}")
        self._ticker.start()

    def stop(self) -> None:
        self._stop.set()
        self._client.disconnect()
        self._client.loop_stop()

    def wait_connected(self, timeout_s: float = 15.0) -> bool:
        return self._connected.wait(timeout_s)

    # What a test does to a lane.

    def raise_call(self, lane_id: str, reason: str = "age_restricted", *, ago_s: float = 0.0, **detail: Any) -> str:
        """Open a call on `lane_id` (starting a visit if none), raised `ago_s` seconds ago, and publish; returns
        the intervention ID."""
        with self._lock:
            lane = self.lanes[lane_id]
            if lane.session_id is None:
                lane.session_id = str(uuid.uuid4())
                lane.lines = [{"line_id": "L1", "gtin": "4901777000001", "name": "Beer 350ml", "quantity": 1,
                               "amount": 330, "age_restricted": True}]
            intervention_id = f"I{len(lane.calls) + len(lane.resolved) + 1}"
            lane.calls[intervention_id] = {
                "session_id": lane.session_id, "intervention_id": intervention_id, "reason": reason,
                "raised_at": now_iso(time.time() - ago_s),
                "remote_allowed": self.remote.get(reason, "remote") == "remote",
                "detail": {"line_id": "L1", "name": "Beer 350ml", **detail}, "acknowledged": None}
            lane.state = "needs_attendant"
            self._publish_status(lane)
            return intervention_id

    def silence(self, lane_id: str, silent: bool = True) -> None:
        """The lane stops (or resumes) publishing, as a lane whose agent hung would."""
        with self._lock:
            self.lanes[lane_id].silent = silent

    def publish_all(self) -> None:
        with self._lock:
            for lane in self.lanes.values():
                self._publish_status(lane)

    # The contract.

    def status(self, lane: FakeLane) -> dict[str, Any]:
        return {"schema": wire.STATUS_SCHEMA, "store_id": self.store_id, "lane_id": lane.lane_id,
                "status_seq": lane.seq, "published_at": now_iso(), "heartbeat_s": self.heartbeat_s,
                "state": lane.state, "session_id": lane.session_id, "item_count": len(lane.lines),
                "total": sum(line["amount"] for line in lane.lines), "currency": "JPY", "lines": lane.lines,
                "interventions": list(lane.calls.values()), "last_scan": None,
                "devices": {"scanner-1": {"state": "ok", "reason": None}}, "uplink": "online",
                "light": "red" if lane.state == "out_of_order" else "yellow_flashing" if lane.calls else "green",
                "help_coming": lane.help_coming}

    def _publish_status(self, lane: FakeLane) -> None:
        if lane.silent or not self._connected.is_set():
            return
        lane.seq += 1
        lane.last_published = time.monotonic()
        topic = wire.status_topic(self.prefix, self.store_id, lane.lane_id)
        self._client.publish(topic, json.dumps(self.status(lane)).encode(), qos=1, retain=True)

    def _heartbeats(self) -> None:
        while not self._stop.wait(min(1.0, self.heartbeat_s / 4)):
            with self._lock:
                for lane in self.lanes.values():
                    if time.monotonic() - lane.last_published >= self.heartbeat_s:
                        self._publish_status(lane)

    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if getattr(reason, "is_failure", False):
            return
        sock = client.socket()
        if isinstance(sock, socket.socket):   # no Nagle: a reply must not wait for a delayed ACK
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.subscribe(f"{self.prefix}/{self.store_id}/+/attendant/commands", qos=1)
        self._connected.set()
        with self._lock:
            for lane in self.lanes.values():
                client.publish(f"{self.prefix}/{self.store_id}/{lane.lane_id}/status", b"online", qos=1, retain=True)
                self._publish_status(lane)

    def _on_message(self, client: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        lane_id = msg.topic.split("/")[-3]
        parsed = wire.parse_command_payload(msg.payload)
        if parsed is None or lane_id not in self.lanes:
            return
        token, reply_to = parsed
        correlation = getattr(msg.properties, "CorrelationData", None) if msg.properties is not None else None
        with self._lock:
            reply = self._decide(self.lanes[lane_id], token)
            self.replies.append(reply.to_json())
        properties = None
        if correlation is not None:
            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            properties.CorrelationData = correlation
        client.publish(reply_to, reply.payload(), qos=1, properties=properties)

    def _reply(self, lane: FakeLane, jti: str | None, outcome: str, reason: str | None = None,
               message: str = "", **extra: Any) -> wire.Reply:
        return wire.Reply(command_id=jti, store_id=self.store_id, lane_id=lane.lane_id, outcome=outcome,
                          reason=reason, message=message, status_seq=lane.seq, **extra)

    def _decide(self, lane: FakeLane, token: str) -> wire.Reply:
        policy = tokens.TimePolicy(now=time.time())
        claims = wire.verify_command(token, self.station_keys, policy, max_age_s=10)
        if isinstance(claims, wire.CommandRefused):
            return self._reply(lane, claims.jti, "refused", claims.reason, claims.message)
        if claims.jti in self.seen:
            return self._reply(lane, claims.jti, "refused", "replayed", "this command was seen before")
        self.seen.add(claims.jti)
        if claims.store_id != self.store_id or claims.lane_id != lane.lane_id:
            return self._reply(lane, claims.jti, "refused", "wrong_lane", "not this lane")
        staff = tokens.verify(claims.staff_token, self.staff_keys, policy, allowed=("staff",))
        if isinstance(staff, tokens.TokenRejected):
            return self._reply(lane, claims.jti, "refused", "staff_token", str(staff.reason))
        if claims.action == "void_sale" and staff.role != "supervisor":
            return self._reply(lane, claims.jti, "refused", "role", "only a supervisor may void a paid sale")
        return self._apply(lane, claims, staff.sub)

    def _apply(self, lane: FakeLane, claims: wire.CommandClaims, staff_id: str) -> wire.Reply:
        action, iid = claims.action, claims.intervention_id or ""
        if action in ("approve", "reject", "coming"):
            if iid in lane.resolved:
                done = lane.resolved[iid]
                return self._reply(lane, claims.jti, "already_resolved", None, "already resolved",
                                   resolved_by=done["staff_id"], resolved_at=done["at"], decision=done["decision"])
            call = lane.calls.get(iid)
            if call is None or call["session_id"] != claims.session_id:
                return self._reply(lane, claims.jti, "refused", "no_such_intervention", "no such call")
            if action != "coming" and not call["remote_allowed"]:
                return self._reply(lane, claims.jti, "refused", "at_lane_only", "decide this at the lane")
        lane.applied.append({"action": action, "staff_id": staff_id, "intervention_id": claims.intervention_id})
        lane.applied_at.append(time.time())
        decision = None
        if action == "coming":
            lane.help_coming = {"staff_id": staff_id, "name": staff_id, "at": now_iso()}
            lane.calls[iid]["acknowledged"] = {"staff_id": staff_id, "at": now_iso()}
        elif action in ("approve", "reject"):
            decision = "approved" if action == "approve" else "rejected"
            lane.calls.pop(iid)
            lane.resolved[iid] = {"staff_id": staff_id, "at": now_iso(), "decision": decision}
            lane.help_coming = None if not lane.calls else lane.help_coming
            lane.state = "needs_attendant" if lane.calls else "scanning"
        elif action == "lock":
            lane.state = "out_of_order"
        elif action == "unlock":
            lane.state = "idle" if lane.session_id is None else "scanning"
        self._publish_status(lane)
        return self._reply(lane, claims.jti, "applied", None, f"{action} applied", decision=decision,
                           resolved_by=staff_id if decision else None,
                           resolved_at=now_iso() if decision else None)
