"""Config: the example parses, and every bad config is refused with the file, the key and the fix."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from agent.config import load
from agent.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = '[agent]\nstore_id = "s1"\nlane_id = "l1"\nstate_dir = "/tmp/omo-state"\n'

BAD_CONFIGS = [
    ("unknown_section", MINIMAL + "[scanner]\nport = 1\n",
     "unknown section [scanner]; known sections are [agent], [mqtt], [api], [catalog], [trust], [payment], [devices]"),
    ("missing_agent", '[api]\nlisten = "127.0.0.1:1"\n',
     "section [agent] is missing. Fix: add it (see config/agent.example.toml)"),
    ("missing_store_id", '[agent]\nlane_id = "l1"\n',
     "[agent] store_id: is required. Fix: add store_id = ... to [agent]"),
    ("store_id_with_slash", '[agent]\nstore_id = "a/b"\nlane_id = "l1"\n',
     "[agent] store_id: 'a/b' is not allowed. Fix: use a value matching"),
    ("unknown_agent_key", MINIMAL + "colour = 1\n",
     "[agent] colour: unknown option. Fix: remove it or check the spelling (known: "),
    ("lowercase_currency", MINIMAL + 'currency = "jpy"\n',
     "[agent] currency: 'jpy' is not allowed. Fix: use an ISO 4217 code in capitals"),
    ("relative_state_dir", '[agent]\nstore_id = "s1"\nlane_id = "l1"\nstate_dir = "state"\n',
     "[agent] state_dir: must be an absolute path. Fix: for example \"/var/lib/omo-edge\""),
    ("port_is_text", MINIMAL + '[mqtt]\nhost = "h"\nport = "abc"\n',
     "[mqtt] port: expected an integer, got str 'abc'. Fix: write port as an integer"),
    ("port_out_of_range", MINIMAL + '[mqtt]\nhost = "h"\nport = 70000\n',
     "[mqtt] port: 70000 is out of range. Fix: use an integer from 1 to 65535"),
    ("tls_as_string", MINIMAL + '[mqtt]\nhost = "h"\ntls = "yes"\n',
     "[mqtt] tls: expected true or false, got str 'yes'. Fix: write tls as true or false"),
    ("tls_without_ca", MINIMAL + '[mqtt]\nhost = "h"\ntls = true\n',
     "[mqtt] ca_file: is required when tls = true. Fix: point it at the PEM file of the broker's CA"),
    ("bad_delivery", MINIMAL + '[mqtt]\nhost = "h"\ndelivery = "never"\n',
     "[mqtt] delivery: 'never' is not one of end-to-end, broker. Fix: use one of: 'end-to-end', 'broker'"),
    ("broker_delivery_on_3_1_1", MINIMAL + '[mqtt]\nhost = "h"\nprotocol = "3.1.1"\ndelivery = "broker"\n',
     '[mqtt] delivery: "broker" cannot be used with protocol = "3.1.1": a 3.1.1 broker acknowledges a publish that '
     'its ACL silently dropped, so its PUBACK proves nothing. Fix: use delivery = "end-to-end" (the cloud\'s own ack '
     'confirms each event), or protocol = "5"'),
    ("simulated_payments_need_allow_simulators", MINIMAL + '[payment]\nadapter = "simulated"\n',
     "[payment] adapter: 'simulated' is a simulator: it approves payments and no money moves. Fix: name the store's "
     'payment adapter (for example "paypay", docs/payment.md), or set allow_simulators = true in [agent] on a '
     "development lane"),
    ("bad_protocol", MINIMAL + '[mqtt]\nhost = "h"\nprotocol = "3.1"\n',
     "[mqtt] protocol: '3.1' is not one of 5, 3.1.1. Fix: use one of: '5', '3.1.1'"),
    ("missing_ca_file", MINIMAL + '[mqtt]\nhost = "h"\ntls = true\nca_file = "/nonexistent/ca.pem"\n',
     "[mqtt] ca_file: /nonexistent/ca.pem does not exist or cannot be read. Fix: check the path"),
    ("api_not_loopback", MINIMAL + '[api]\nlisten = "0.0.0.0:8765"\n',
     "[api] listen: 0.0.0.0 is not a loopback address; the local API must not be reachable from the store "
     "network. Fix: use 127.0.0.1, ::1 or a unix socket"),
    ("api_garbage", MINIMAL + '[api]\nlisten = "nowhere"\n',
     "[api] listen: 'nowhere' is not HOST:PORT or unix:PATH. Fix: use \"127.0.0.1:8765\""),
    ("catalog_plain_http", MINIMAL + '[catalog]\nurl = "http://cloud.example/c"\n',
     "[catalog] url: plain http is only allowed to this machine (the token would travel in clear). Fix: use "
     "https://"),
    ("trust_key_missing", MINIMAL + '[trust]\nkeys = ["/nonexistent/k.pub"]\n',
     "[trust] keys: /nonexistent/k.pub does not exist or cannot be read. Fix: check the path"),
    ("devices_not_array", MINIMAL + '[devices]\nname = "x"\n',
     "[devices]: must be an array of tables: write each device as [[devices]]"),
    ("device_bad_name", MINIMAL + '[[devices]]\nname = "Hand Held"\ndriver = "serial"\n',
     "[devices #1] name: 'Hand Held' is not allowed. Fix: use lower-case letters, digits, '-' and '_'"),
    ("simulator_not_allowed", MINIMAL + '[[devices]]\nname = "x"\ndriver = "sim+serial"\n',
     "[device 'x'] driver: 'sim+serial' is a simulator. Fix: set allow_simulators = true in [agent]"),
    ("unknown_driver", MINIMAL + '[[devices]]\nname = "x"\ndriver = "telepathy"\n',
     "[device 'x'] driver: no driver named 'telepathy'"),
    ("duplicate_device", MINIMAL + '[[devices]]\nname = "x"\ndriver = "nope"\n[[devices]]\nname = "x"\n'
     'driver = "nope"\n', None),  # checked with check_devices=False below
    ("not_toml", "[agent\nstore_id=", "not valid TOML: "),
    ("registration_number_short", MINIMAL + '[session]\nregistration_number = "T123"\n',
     "[session] registration_number: 'T123' is not a qualified-invoice registration number. Fix: write it as on "
     "the tax office's notice: 'T' and 13 digits"),
    ("registration_number_without_t", MINIMAL + '[session]\nregistration_number = "1234567890123"\n',
     "[session] registration_number: '1234567890123' is not a qualified-invoice registration number"),
    ("registration_number_bad_check_digit", MINIMAL + '[session]\nregistration_number = "T1234567890123"\n',
     "[session] registration_number: 'T1234567890123' has check digit 1 but its 12 digits give 9. Fix: copy the "
     "number from the tax office's notice (the first of the 13 digits is the check digit)"),
    ("tax_rounding_unknown", MINIMAL + '[session]\ntax_rounding = "bankers"\n',
     "[session] tax_rounding: 'bankers' is not one of down, half_up, up"),
    ("audit_rate_above_one", MINIMAL + '[session]\naudit_rate = 2\n',
     "[session] audit_rate: 2.0 is not a share from 0 to 1. Fix: use 0 for none"),
    ("points_multiplier_not_decimal", MINIMAL + '[points]\ntier_multipliers = { gold = "double" }\n',
     "[points] tier_multipliers: gold = 'double' is not a decimal multiplier"),
    ("points_earning_unknown", MINIMAL + '[points]\nearning = "per_yen"\n',
     "[points] earning: 'per_yen' is not one of per_unit, proportional"),
    ("simulated_outcome_unknown", MINIMAL + '[payment]\nsimulated_outcome = "maybe"\n',
     "[payment] simulated_outcome: 'maybe' is not one of approve, decline, timeout"),
    ("simulated_locker_not_allowed", MINIMAL + '[pickup]\nlocker = "simulated"\n',
     "[pickup] locker: 'simulated' is a simulator: no door opens and orders would be reported collected. "
     "Fix: set allow_simulators = true in [agent]"),
    ("unknown_locker", MINIMAL + '[pickup]\nlocker = "vault9000"\n',
     "[pickup] locker: no locker named 'vault9000' (installed: "),
    ("locker_name_with_space", MINIMAL + '[pickup]\nlocker = "my locker"\n',
     "[pickup] locker: 'my locker' is not allowed. Fix: use \"none\", \"simulated\" or the name of an installed "
     "locker driver"),
    ("simulated_fault_unknown", MINIMAL + 'allow_simulators = true\n[pickup]\nlocker = "simulated"\n'
     'simulated_fault = "on_fire"\n',
     "[pickup] simulated_fault: 'on_fire' is not one of none, jammed, offline"),
    ("simulated_fault_without_simulated_locker", MINIMAL + '[pickup]\nsimulated_fault = "jammed"\n',
     "[pickup] simulated_fault: is set but locker is 'none'. Fix: remove simulated_fault, or set locker = "
     "\"simulated\""),
    ("locker_option_unknown", MINIMAL + 'allow_simulators = true\n[pickup]\nlocker = "simulated"\n'
     'options = { colour = "red" }\n',
     "[pickup] options.colour: unknown option 'colour' (known: fault, latency_ms, compartments)"),
    ("compartments_zero", MINIMAL + '[pickup]\ncompartments = 0\n',
     "[pickup] compartments: 0 is out of range. Fix: use an integer from 1 to 10000"),
    ("unknown_pickup_key", MINIMAL + '[pickup]\nlockr = "none"\n',
     "[pickup] lockr: unknown option. Fix: remove it or check the spelling"),
]


@pytest.mark.parametrize(("case", "text", "expected"), [c for c in BAD_CONFIGS if c[2]], ids=[c[0] for c in
                                                                                               BAD_CONFIGS if c[2]])
def test_bad_config_is_refused_naming_file_key_and_fix(tmp_path: Path, case: str, text: str, expected: str) -> None:
    path = tmp_path / f"{case}.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert expected in message, message


@pytest.mark.parametrize("number", [
    "T7000012050002",      # the National Tax Agency's own corporate number: 2+5+2+1x2 = 11, 9 - 11 mod 9 = 7
    "T9234567890123",      # 72 mod 9 = 0: check digit 9
    "T1010001000006",
])
def test_a_registration_number_with_its_check_digit_is_taken(tmp_path: Path, number: str) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(MINIMAL + f'[session]\nregistration_number = "{number}"\n')
    assert load(path).session.registration_number == number


def test_duplicate_device_names_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.toml"
    path.write_text(MINIMAL + '[[devices]]\nname = "x"\ndriver = "d"\n[[devices]]\nname = "x"\ndriver = "d"\n')
    with pytest.raises(ConfigError, match="device name 'x' is used twice; give each device its own name"):
        load(path, check_devices=False)


def test_world_readable_secret_is_refused_with_chmod_fix(tmp_path: Path) -> None:
    token = tmp_path / "cloud.token"
    token.write_text("secret")
    token.chmod(0o644)
    path = tmp_path / "a.toml"
    path.write_text(MINIMAL + f'[catalog]\nurl = "https://c.example/x"\ntoken_file = "{token}"\n')
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert f"[catalog] token_file: secret file {token} is readable by every user on this machine. " \
           f"Fix: chmod 600 {token}" in str(caught.value)
    token.chmod(0o600)
    assert load(path).catalog is not None


def test_bare_secret_name_is_read_from_the_systemd_credentials_directory(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "cloud.token").write_text("t")
    (creds / "cloud.token").chmod(0o400)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    path = tmp_path / "a.toml"
    path.write_text(MINIMAL + '[catalog]\nurl = "https://c.example/{store_id}"\ntoken_file = "cloud.token"\n')
    catalog = load(path).catalog
    assert catalog is not None
    assert catalog.token_file == creds / "cloud.token"
    assert catalog.url == "https://c.example/s1"


def test_missing_config_file_names_the_ways_to_give_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found; pass --config PATH or set OMO_EDGE_CONFIG"):
        load(tmp_path / "absent.toml")


def example_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped example with its /etc paths moved into tmp_path, secrets created 0600 as install.sh does (the
    ones named bare in the credentials directory the unit and the /usr/local/bin wrapper give)."""
    etc = tmp_path / "etc" / "omo-edge"
    (etc / "credentials").mkdir(parents=True)
    for name in ("cloud.token", "mqtt.password", "lane.key"):
        (etc / "credentials" / name).write_text("x")
        (etc / "credentials" / name).chmod(0o600)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(etc / "credentials"))
    text = (ROOT / "config" / "agent.example.toml").read_text().replace("/etc/omo-edge", str(etc))
    for secret in re.findall(rf'"({re.escape(str(etc))}/[^"]+)"', text):
        Path(secret).parent.mkdir(parents=True, exist_ok=True)
        Path(secret).write_text("x")
        Path(secret).chmod(0o600)
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


def test_example_config_parses_with_every_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load(example_config(tmp_path, monkeypatch), check_devices=False)
    assert config.agent.store_id == "store-001"
    assert config.mqtt is not None and config.mqtt.delivery == "end-to-end"
    assert config.catalog is not None and config.catalog.url.endswith("/stores/store-001/catalog")
    assert [d.driver for d in config.devices] == ["serial", "hid", "camera"]


def test_pickup_defaults_to_no_locker_and_a_simulated_locker_takes_its_fault(tmp_path: Path) -> None:
    path = tmp_path / "pickup.toml"
    path.write_text(MINIMAL)
    assert load(path).pickup.locker == "none"
    path.write_text(MINIMAL + 'allow_simulators = true\n[pickup]\nlocker = "simulated"\nsimulated_fault = "jammed"\n'
                    'open_timeout_s = 5\noptions = { latency_ms = 10 }\n')
    pickup = load(path).pickup
    assert (pickup.locker, pickup.open_timeout_s, pickup.compartments) == ("simulated", 5, 24)
    assert pickup.driver_options == {"fault": "jammed", "latency_ms": 10}


def test_config_check_exits_2_with_the_message_on_stderr(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(MINIMAL + '[mqtt]\nhost = "h"\nport = 0\n')
    result = subprocess.run([sys.executable, "-m", "agent", "config", "check", "--config", str(path)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert f"{path}: [mqtt] port: 0 is out of range. Fix: use an integer from 1 to 65535" in result.stderr


def test_config_check_exits_0_on_a_good_config(tmp_path: Path) -> None:
    path = tmp_path / "good.toml"
    path.write_text(MINIMAL)
    env = {k: v for k, v in os.environ.items() if k != "OMO_EDGE_CONFIG"}
    result = subprocess.run([sys.executable, "-m", "agent", "--config", str(path), "config", "check"],
                            capture_output=True, text=True, timeout=30, env=env)
    assert result.returncode == 0, result.stderr
    assert "ok: store s1, lane l1, mqtt off (offline)" in result.stdout


def test_config_path_comes_from_the_environment_when_not_given(tmp_path: Path) -> None:
    path = tmp_path / "env.toml"
    path.write_text(MINIMAL)
    result = subprocess.run([sys.executable, "-m", "agent", "config", "check"], capture_output=True, text=True,
                            timeout=30, env={**os.environ, "OMO_EDGE_CONFIG": str(path)})
    assert result.returncode == 0, result.stderr
    assert str(path) in result.stdout
