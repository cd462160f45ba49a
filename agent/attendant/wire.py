"""What the lane and the attendant station share on the wire: topics, the command's claims, signing and checking it,
and the reply (docs/attendant.md; docs/asyncapi.yaml).

Pure and shared: both the lane (agent/attendant/) and the station (agent/station/) import this module, so it
imports only the standard library and `agent.interpret.tokens` (the same JWS rules as the app's tokens: one
canonical base64url, no duplicate names, EdDSA only). cryptography is imported inside the functions that sign or
check, so importing the topics does not load it.

A command is a compact JWS signed by the station's key, carrying the staff member's own staff token: the station
says "this came through me now", the staff token says who decided. The lane checks both offline.
"""

from __future__ import annotations

import binascii
import json
import math
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from agent.interpret.tokens import TimePolicy, _b64, _json_object

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

STATUS_SCHEMA = "omo.lane_status/1"
REPLY_SCHEMA = "omo.attendant_reply/1"
COMMAND_TYPE = "attendant_command"
ACTIONS = ("approve", "reject", "void_line", "lock", "unlock", "cancel_visit", "coming", "void_sale")
OUTCOMES = ("applied", "refused", "already_resolved")
REFUSALS = ("unknown_key", "bad_signature", "malformed", "expired", "too_long", "replayed", "wrong_lane",
            "staff_token", "role", "at_lane_only", "no_such_intervention", "not_applicable", "disabled")
DECISIONS = ("approved", "rejected")
ROLES = ("staff", "supervisor")
# The command embeds a staff token (at most agent.interpret.tokens.MAX_TOKEN_CHARS), base64url again inside it.
MAX_COMMAND_CHARS = 8192
_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


def status_topic(prefix: str, store_id: str, lane_id: str) -> str:
    """Where the lane keeps its retained `omo.lane_status/1`."""
    return f"{prefix}/{store_id}/{lane_id}/attendant/status"


def status_filter(prefix: str, store_id: str) -> str:
    """The station's subscription to every lane's status in its store."""
    return f"{prefix}/{store_id}/+/attendant/status"


def commands_topic(prefix: str, store_id: str, lane_id: str) -> str:
    """Where the lane listens for the station's commands."""
    return f"{prefix}/{store_id}/{lane_id}/attendant/commands"


def replies_topic(prefix: str, store_id: str, station_id: str) -> str:
    """Where one station hears the lanes' replies (also the command's `reply_to` and MQTT 5 Response Topic)."""
    return f"{prefix}/{store_id}/attendant/{station_id}/replies"


def is_replies_topic(topic: str, prefix: str, store_id: str) -> bool:
    """Whether `topic` is some station's replies topic in this store: the only place a lane answers, so a
    command cannot make it publish on another topic (its events', another store's)."""
    head = f"{prefix}/{store_id}/attendant/"
    station = topic[len(head):-len("/replies")] if topic.startswith(head) and topic.endswith("/replies") else ""
    return _ID.fullmatch(station) is not None


@dataclass(frozen=True, slots=True)
class CommandClaims:
    """The signed content of one command (the signature is checked and dropped). `kid` is the station key's."""

    jti: str
    iat: int
    exp: int
    store_id: str
    lane_id: str
    station_id: str
    action: str
    staff_token: str
    session_id: str | None = None
    intervention_id: str | None = None
    line_id: str | None = None
    sale_id: str | None = None
    reason: str | None = None
    kid: str = ""

    def to_claims(self) -> dict[str, Any]:
        """The JWT claims as signed (without `kid`, which is the header's)."""
        claims = {"typ": COMMAND_TYPE, **asdict(self)}
        del claims["kid"]
        return claims


@dataclass(frozen=True, slots=True)
class CommandRefused:
    """Why a command was refused before it was looked at; `jti` when it could be read (for the reply)."""

    reason: str
    message: str
    jti: str | None = None


def new_command(*, store_id: str, lane_id: str, station_id: str, action: str, staff_token: str,
                session_id: str | None = None, intervention_id: str | None = None, line_id: str | None = None,
                sale_id: str | None = None, reason: str | None = None, ttl_s: int = 10,
                now: float | None = None) -> CommandClaims:
    """A fresh command: uuid4 ID, issued now, expiring in `ttl_s` (the lane refuses more than its
    `command_max_age_s`)."""
    if action not in ACTIONS:
        raise ValueError(f"no such attendant action {action!r}; known: {ACTIONS}")
    issued = int(time.time() if now is None else now)
    return CommandClaims(jti=str(uuid.uuid4()), iat=issued, exp=issued + ttl_s, store_id=store_id, lane_id=lane_id,
                         station_id=station_id, action=action, staff_token=staff_token, session_id=session_id,
                         intervention_id=intervention_id, line_id=line_id, sale_id=sale_id, reason=reason)


def _segment(value: Mapping[str, Any]) -> str:
    import base64

    raw = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def sign_command(claims: CommandClaims, private_key: Ed25519PrivateKey, kid: str) -> str:
    """The station's compact JWS of `claims` under its key `kid` (the key file's stem on the lanes)."""
    import base64

    head = _segment({"alg": "EdDSA", "typ": "JWT", "kid": kid})
    body = _segment(claims.to_claims())
    signature = private_key.sign(f"{head}.{body}".encode("ascii"))
    return f"{head}.{body}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode('ascii')}"


def verify_command(token: str, keys: Mapping[str, Ed25519PublicKey], policy: TimePolicy,
                   max_age_s: int) -> CommandClaims | CommandRefused:
    """Check shape, station key, signature, claims, expiry (with the `[trust]` skew policy) and lifetime
    (`exp - iat` at most `max_age_s`: a station cannot sign a command that stays valid for long). Replay, the
    lane's identity, the staff token and the action's own rules are the lane's to check after this."""
    if len(token) > MAX_COMMAND_CHARS or _SHAPE.fullmatch(token) is None:
        return CommandRefused("malformed", "the command is not a compact JWS")
    head, body, signature = token.split(".")
    header = _json_object(head)
    if header is None or header.get("alg") != "EdDSA" or "crit" in header or not isinstance(header.get("kid"), str):
        return CommandRefused("malformed", "the command's JWS header is not EdDSA with a kid")
    kid: str = header["kid"]
    payload = _json_object(body)
    jti = unverified_jti(token)
    key = keys.get(kid)
    if key is None:
        return CommandRefused("unknown_key", f"no station key {kid[:64]!r} in [attendant] keys", jti)
    from cryptography.exceptions import InvalidSignature

    try:
        key.verify(_b64(signature), f"{head}.{body}".encode("ascii"))
    except (InvalidSignature, binascii.Error, ValueError):
        return CommandRefused("bad_signature", f"the signature does not match station key {kid!r}", jti)
    claims = None if payload is None else _claims(kid, payload)
    if claims is None:
        return CommandRefused("malformed", "the command's claims are missing or of the wrong type", jti)
    return _timely(claims, policy, max_age_s)


def unverified_jti(token: str) -> str | None:
    """The command ID as written, signature unchecked: only to name a command in its refusal (under MQTT 3.1.1
    the station has nothing else to match a reply by). Nothing else of an unverified command is used."""
    if len(token) > MAX_COMMAND_CHARS or _SHAPE.fullmatch(token) is None:
        return None
    payload = _json_object(token.split(".")[1])
    jti = payload.get("jti") if payload is not None else None
    return jti if isinstance(jti, str) and _ID.fullmatch(jti) else None


def _timely(claims: CommandClaims, policy: TimePolicy, max_age_s: int) -> CommandClaims | CommandRefused:
    skew = policy.skew_s if policy.clock_synced else policy.unsynced_skew_s
    if claims.exp - claims.iat > max_age_s:
        return CommandRefused("too_long", f"the command is valid for {claims.exp - claims.iat} s; this lane takes "
                              f"at most {max_age_s} s ([attendant] command_max_age_s)", claims.jti)
    if policy.now > claims.exp + skew:
        return CommandRefused("expired", "the command has expired (check the station's and the lane's clocks)",
                              claims.jti)
    if policy.clock_synced and claims.iat > policy.now + skew:
        return CommandRefused("expired", "the command was issued in the future (check the station's clock)",
                              claims.jti)
    return claims


def _text(payload: Mapping[str, Any], name: str, *, limit: int = 128) -> str | None:
    value = payload.get(name)
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


def _date(payload: Mapping[str, Any], name: str) -> float | None:
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and abs(value) < 2**53 else None


def _claims(kid: str, payload: Mapping[str, Any]) -> CommandClaims | None:
    """The claims if every required one is there with its type, else None."""
    iat, exp = _date(payload, "iat"), _date(payload, "exp")
    if iat is None or exp is None:
        return None
    ids = {name: _text(payload, name) for name in ("jti", "store_id", "lane_id", "station_id", "action")}
    staff_token = _text(payload, "staff_token", limit=MAX_COMMAND_CHARS)
    if payload.get("typ") != COMMAND_TYPE or staff_token is None or any(v is None for v in ids.values()):
        return None
    if ids["action"] not in ACTIONS or _ID.fullmatch(str(ids["jti"])) is None:
        return None
    optional: dict[str, str | None] = {}
    for name in ("session_id", "intervention_id", "line_id", "sale_id", "reason"):
        value = payload.get(name)
        if value is not None and _text(payload, name, limit=512 if name == "reason" else 128) is None:
            return None
        optional[name] = value
    return CommandClaims(jti=str(ids["jti"]), iat=math.floor(iat), exp=math.ceil(exp),
                         store_id=str(ids["store_id"]), lane_id=str(ids["lane_id"]),
                         station_id=str(ids["station_id"]), action=str(ids["action"]), staff_token=staff_token,
                         kid=kid, **optional)


def command_payload(token: str, reply_to: str) -> bytes:
    """The MQTT payload of a command: the JWS and where to answer (what MQTT 3.1.1 has instead of properties)."""
    return json.dumps({"command": token, "reply_to": reply_to}, separators=(",", ":")).encode()


def parse_command_payload(payload: bytes) -> tuple[str, str] | None:
    """(JWS, reply_to) from a command's MQTT payload, or None when it is not one."""
    try:
        message = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(message, dict):
        return None
    token, reply_to = message.get("command"), message.get("reply_to")
    if not isinstance(token, str) or not isinstance(reply_to, str) or not reply_to or "+" in reply_to \
            or "#" in reply_to:
        return None
    return token, reply_to


@dataclass(frozen=True, slots=True)
class Reply:
    """`omo.attendant_reply/1`: what the lane did with one command."""

    command_id: str | None
    store_id: str
    lane_id: str
    outcome: str
    reason: str | None = None
    message: str = ""
    resolved_by: str | None = None
    resolved_at: str | None = None
    decision: str | None = None
    status_seq: int | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"no such reply outcome {self.outcome!r}; known: {OUTCOMES}")
        if self.outcome == "refused" and self.reason not in REFUSALS:
            raise ValueError(f"a refusal needs a reason among {REFUSALS}, not {self.reason!r}")

    def to_json(self) -> dict[str, Any]:
        return {"schema": REPLY_SCHEMA, **{f.name: getattr(self, f.name) for f in fields(self)}}

    def payload(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":"), ensure_ascii=False).encode()


def parse_reply(payload: bytes) -> Reply | None:
    """A reply as the station reads it, or None when it is not one."""
    try:
        message = json.loads(payload)
        if not isinstance(message, dict) or message.pop("schema", None) != REPLY_SCHEMA:
            return None
        return Reply(**message)
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
