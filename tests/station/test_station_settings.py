"""The station's config file: defaults, and refusals that name the file, the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import ConfigError
from agent.station import settings
from simulators.lanes.station import StationKit


@pytest.fixture
def kit(tmp_path: Path) -> StationKit:
    return StationKit(tmp_path, broker_port=1883)


def test_the_kit_config_loads_with_the_defaults(kit: StationKit) -> None:
    loaded = settings.load(kit.config)
    assert loaded.station.host == "127.0.0.1" and loaded.station.session_idle_s == 900
    assert loaded.broker.topic_prefix == "omo/v1" and loaded.broker.client_id == "omo-edge-attendant-station-1"


def refusal(kit: StationKit, text: str) -> str:
    kit.config.write_text(text)
    with pytest.raises(ConfigError) as caught:
        settings.load(kit.config)
    return str(caught.value)


def test_without_tls_the_station_refuses_to_start(kit: StationKit) -> None:
    text = kit.toml().replace("insecure_loopback_only = true\n", "")
    message = refusal(kit, text)
    assert str(kit.config) in message and "[station] tls_cert" in message and "HTTPS only" in message


def test_insecure_mode_binds_loopback_whatever_listen_says(kit: StationKit) -> None:
    kit.config.write_text(kit.toml().replace(f"127.0.0.1:{kit.port}", "0.0.0.0:8443"))
    assert settings.load(kit.config).station.host == "127.0.0.1"


@pytest.mark.parametrize(("change", "key"), [
    (("tls = false", 'tls = false\nwhat = 1'), "[broker] what"),
    (('host = "127.0.0.1"', 'host = "broker.store.lan"'), "[broker] tls"),
    (('protocol = "5"', 'protocol = "4"'), "[broker] protocol"),
    (("session_idle_s = 900", "session_idle_s = 99999"), "[station] session_idle_s"),
    (('store_id = "store-001"', 'store_id = "a b"'), "[station] store_id"),
])
def test_bad_values_name_the_key(kit: StationKit, change: tuple[str, str], key: str) -> None:
    message = refusal(kit, kit.toml().replace(*change))
    assert key in message and "Fix:" in message, message


def test_a_missing_file_and_an_unknown_section_are_explained(kit: StationKit, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist. Fix: copy config/attendant.example.toml"):
        settings.load(tmp_path / "nope.toml")
    assert "unknown section [mqtt]" in refusal(kit, kit.toml() + "\n[mqtt]\nhost = 'x'\n")


def test_a_world_readable_signing_key_is_refused(kit: StationKit) -> None:
    (kit.directory / "station-1.key").chmod(0o644)
    message = refusal(kit, kit.toml())
    assert "[station] signing_key" in message and "chmod 600" in message


def test_the_example_config_uses_only_keys_the_station_reads(kit: StationKit) -> None:
    example = (Path(__file__).resolve().parents[2] / "config" / "attendant.example.toml").read_text()
    key = kit.directory / "station-1.key"
    files = {"/etc/omo-edge/station/server.crt": kit.station_public, "station-server.key": key,
             "station-1.key": key, "/etc/omo-edge/staff-keys": kit.directory / "staff-keys"}
    for name in ("broker-ca.crt", "station-1.crt"):
        files[f"/etc/omo-edge/station/{name}"] = kit.station_public
    files["/etc/omo-edge/station/station-1.key.pem"] = key
    for old, new in files.items():
        example = example.replace(f'"{old}"', f'"{new}"')
    kit.config.write_text(example)
    loaded = settings.load(kit.config)
    assert (loaded.station.host, loaded.station.port, loaded.broker.port) == ("0.0.0.0", 8443, 8883)
    assert loaded.station.session_ttl_s == 28800 and loaded.station.reply_timeout_s == 5.0


def test_the_signing_keys_id_is_the_file_stem_the_lanes_know_it_by(kit: StationKit) -> None:
    from agent.interpret.tokens import load_keys
    from agent.station.service import load_signing_key

    dotted = kit.directory / "station.2026b.key"
    dotted.write_bytes((kit.directory / "station-1.key").read_bytes())
    public = kit.directory / "station.2026b.pub"
    public.write_bytes(kit.station_public.read_bytes())
    _, kid = load_signing_key(dotted)
    assert kid in load_keys([public])             # the lane's [attendant] keys name it by Path.stem
