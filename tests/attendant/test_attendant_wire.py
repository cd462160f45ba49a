"""The wire shared by the lane and the station: topics, a signed command checked offline, and the reply."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from agent.attendant import wire
from agent.attendant.wire import CommandClaims, CommandRefused, Reply
from agent.interpret.tokens import TimePolicy, load_keys

NOW = 1_790_000_000


@pytest.fixture
def station_key(tmp_path: Path) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def keys_for(tmp_path: Path, key: Ed25519PrivateKey, kid: str = "station-1") -> dict[str, object]:
    path = tmp_path / f"{kid}.pub"
    path.write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    return dict(load_keys([path]))


def command(now: float = NOW, ttl_s: int = 10, **targets: str | None) -> CommandClaims:
    return wire.new_command(store_id="store-001", lane_id="lane-03", station_id="station-1", action="approve",
                            staff_token="eyJa.eyJb.c", ttl_s=ttl_s, now=now,
                            **{"session_id": "V1", "intervention_id": "I1", **targets})


def check(token: str, keys: dict[str, object], now: float = NOW, max_age_s: int = 10) -> CommandClaims | CommandRefused:
    return wire.verify_command(token, keys, TimePolicy(now=now, skew_s=300), max_age_s)  # type: ignore[arg-type]


def test_topics_sit_under_the_prefix_and_the_lane() -> None:
    assert wire.status_topic("omo/v1", "s1", "l3") == "omo/v1/s1/l3/attendant/status"
    assert wire.commands_topic("omo/v1", "s1", "l3") == "omo/v1/s1/l3/attendant/commands"
    assert wire.replies_topic("omo/v1", "s1", "st") == "omo/v1/s1/attendant/st/replies"
    assert wire.status_filter("omo/v1", "s1") == "omo/v1/s1/+/attendant/status"


def test_a_signed_command_verifies_to_the_same_claims(tmp_path: Path, station_key: Ed25519PrivateKey) -> None:
    claims = command()
    result = check(wire.sign_command(claims, station_key, "station-1"), keys_for(tmp_path, station_key))
    assert result == dataclasses.replace(claims, kid="station-1")


def test_unknown_station_key_is_refused(tmp_path: Path, station_key: Ed25519PrivateKey) -> None:
    token = wire.sign_command(command(), station_key, "station-9")
    result = check(token, keys_for(tmp_path, station_key))
    assert isinstance(result, CommandRefused) and result.reason == "unknown_key"


def test_another_key_under_the_trusted_kid_is_a_bad_signature(tmp_path: Path,
                                                               station_key: Ed25519PrivateKey) -> None:
    token = wire.sign_command(command(), Ed25519PrivateKey.generate(), "station-1")
    result = check(token, keys_for(tmp_path, station_key))
    assert isinstance(result, CommandRefused) and result.reason == "bad_signature"


def test_edited_claims_fail_the_signature(tmp_path: Path, station_key: Ed25519PrivateKey) -> None:
    head, _, signature = wire.sign_command(command(), station_key, "station-1").split(".")
    other = base64.urlsafe_b64encode(json.dumps({**command().to_claims(), "lane_id": "lane-04"}).encode()).rstrip(b"=")
    result = check(f"{head}.{other.decode()}.{signature}", keys_for(tmp_path, station_key))
    assert isinstance(result, CommandRefused) and result.reason == "bad_signature"


def test_expired_command_is_refused_after_the_skew(tmp_path: Path, station_key: Ed25519PrivateKey) -> None:
    token = wire.sign_command(command(), station_key, "station-1")
    keys = keys_for(tmp_path, station_key)
    assert isinstance(check(token, keys, now=NOW + 10 + 300), CommandClaims)
    late = check(token, keys, now=NOW + 10 + 301)
    assert isinstance(late, CommandRefused) and late.reason == "expired" and late.jti is not None


def test_a_command_valid_for_longer_than_the_maximum_is_refused(tmp_path: Path,
                                                                station_key: Ed25519PrivateKey) -> None:
    keys = keys_for(tmp_path, station_key)
    assert isinstance(check(wire.sign_command(command(ttl_s=10), station_key, "station-1"), keys), CommandClaims)
    result = check(wire.sign_command(command(ttl_s=11), station_key, "station-1"), keys)
    assert isinstance(result, CommandRefused) and result.reason == "too_long"


@pytest.mark.parametrize("change", [{"action": "explode"}, {"typ": "staff"}, {"jti": 5}, {"lane_id": None},
                                    {"exp": "soon"}, {"intervention_id": 7}])
def test_claims_of_the_wrong_shape_are_malformed(tmp_path: Path, station_key: Ed25519PrivateKey,
                                                 change: dict[str, object]) -> None:
    body = {**command().to_claims(), **change}
    head = wire._segment({"alg": "EdDSA", "typ": "JWT", "kid": "station-1"})
    payload = wire._segment(body)
    signature = base64.urlsafe_b64encode(station_key.sign(f"{head}.{payload}".encode())).rstrip(b"=").decode()
    result = check(f"{head}.{payload}.{signature}", keys_for(tmp_path, station_key))
    assert isinstance(result, CommandRefused) and result.reason == "malformed"


def test_garbage_is_malformed(tmp_path: Path, station_key: Ed25519PrivateKey) -> None:
    for token in ("", "not.a.jws", "eyJ" + "a" * 9000 + ".eyJb.c"):
        result = check(token, keys_for(tmp_path, station_key))
        assert isinstance(result, CommandRefused) and result.reason == "malformed"


def test_payload_carries_the_jws_and_reply_topic() -> None:
    payload = wire.command_payload("eyJa.eyJb.c", "omo/v1/s/attendant/st/replies")
    assert wire.parse_command_payload(payload) == ("eyJa.eyJb.c", "omo/v1/s/attendant/st/replies")
    assert wire.parse_command_payload(b'{"command": "x"}') is None
    assert wire.parse_command_payload(b'{"command": "x", "reply_to": "omo/#"}') is None
    assert wire.parse_command_payload(b"\xff") is None


def test_reply_round_trips_and_names_its_schema() -> None:
    reply = Reply(command_id="c1", store_id="s", lane_id="l", outcome="already_resolved", reason=None,
                  message="already resolved by S-1", resolved_by="S-1", resolved_at="2026-12-07T10:00:00Z",
                  decision="approved", status_seq=4)
    assert json.loads(reply.payload())["schema"] == "omo.attendant_reply/1"
    assert wire.parse_reply(reply.payload()) == reply
    assert wire.parse_reply(b'{"schema": "other"}') is None


def test_a_refusal_without_a_known_reason_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="reason"):
        Reply(command_id="c1", store_id="s", lane_id="l", outcome="refused", reason="because")


def test_only_a_stations_replies_topic_in_this_store_is_a_reply_topic() -> None:
    assert wire.is_replies_topic("omo/v1/s1/attendant/station-1/replies", "omo/v1", "s1")
    for topic in ("omo/v1/s1/lane-01/sales", "omo/v1/s2/attendant/station-1/replies",
                  "omo/v1/s1/attendant/a/b/replies", "omo/v1/s1/attendant//replies", "omo/v1/s1/attendant/replies"):
        assert not wire.is_replies_topic(topic, "omo/v1", "s1"), topic
