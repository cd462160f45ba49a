"""`omo-edge config check` refuses what would fail at run time, and names what is still a placeholder.

Refusals (exit 2, the file, the key and the real fix): a broker URL where a host name belongs, CA, certificate
and key files that are not PEM, a key that does not match its certificate, a credential named bare with no
credentials directory. Warnings (exit 0, one summary block): the example's IDs and hosts, empty credential
files, devices that are not plugged in (naming `omo-edge doctor`), payment adapter "none".
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from agent.cli import main
from simulators.cloud.certs import LanePki

ROOT = Path(__file__).resolve().parents[2]
BASE = '[agent]\nstore_id = "s1"\nlane_id = "l1"\nstate_dir = "/tmp/omo-state"\n'


def check(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["config", "check", "--config", str(config)])
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


def secret(path: Path, text: str = "") -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_the_example_as_installed_passes_with_a_block_naming_each_placeholder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir(mode=0o700)
    for name in ("cloud.token", "mqtt.password", "lane.key"):
        secret(credentials / name)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    config = tmp_path / "agent.toml"
    shutil.copy(ROOT / "config" / "agent.example.toml", config)
    code, out, err = check(config, capsys)
    assert code == 0, err
    head, _, block = out.partition("\n")
    assert head.startswith(f"{config}: ok")
    lines = block.splitlines()
    camera_absent = not Path("/dev/video0").exists()
    assert lines[0].startswith(f"{7 + camera_absent} warnings")
    expected = [
        '[agent] store_id: "store-001" is the example\'s',
        '[agent] lane_id: "lane-01" is the example\'s',
        f"[catalog] token_file: {credentials / 'cloud.token'} is empty",
        '[catalog] url: "https://cloud.example/stores/store-001/catalog" is an example host',
        '[payment] adapter = "none": this lane takes no payments',
        "[devices handheld] port: /dev/serial/by-id/usb-Example_Scanner-if00 is not present",
        "[devices wedge] path: /dev/input/by-id/usb-Example_Scanner-event-kbd is not present",
    ]
    for want, line in zip(expected, lines[1:], strict=False):
        assert line.strip().startswith(want), (want, line)
        assert "Fix: " in line
    assert "omo-edge doctor" in block
    assert ("[devices overhead] source: /dev/video0 is not present" in block) == camera_absent


def test_a_filled_in_config_prints_no_warnings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    secret(tmp_path / "cloud.token", "t0ken\n")
    config = write(tmp_path, BASE + '[payment]\nadapter = "paypay"\nbase_url = "https://api.paypay.ne.jp"\n'
                   '[catalog]\nurl = "https://catalog.omo-mart.jp/c"\ntoken_file = "cloud.token"\n')
    code, out, err = check(config, capsys)
    assert (code, err) == (0, "")
    assert out.count("\n") == 1 and "warning" not in out


@pytest.mark.parametrize(("host", "fix"), [
    ("mqtt://broker.store.example:8883", 'host = "broker.store.example" and port = 8883'),
    ("broker.store.example:1883", 'host = "broker.store.example" and port = 1883'),
    ("mqtts://10.0.0.5", 'host = "10.0.0.5"'),
])
def test_a_broker_url_where_a_host_name_belongs_is_refused_with_the_fix(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], host: str, fix: str) -> None:
    code, _, err = check(write(tmp_path, BASE + f'[mqtt]\nhost = "{host}"\n'), capsys)
    assert code == 2
    assert "[mqtt] host:" in err and "not a host name" in err and f"Fix: {fix}" in err


def test_an_ipv6_broker_address_is_a_host_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = check(write(tmp_path, BASE + '[mqtt]\nhost = "::1"\n'), capsys)
    assert (code, err) == (0, "")


def tls_config(tmp_path: Path, ca: Path, cert: Path, key: Path) -> Path:
    return write(tmp_path, BASE + f'[mqtt]\nhost = "broker"\ntls = true\nca_file = "{ca}"\n'
                 f'cert_file = "{cert}"\nkey_file = "{key}"\n')


def test_good_tls_files_pass(tmp_path: Path, sync_pki: LanePki, capsys: pytest.CaptureFixture[str]) -> None:
    lane = sync_pki.lane("s1", "l1")
    code, _, err = check(tls_config(tmp_path, sync_pki.ca.path, lane.cert, lane.key), capsys)
    assert (code, err) == (0, "")


@pytest.mark.parametrize(("broken", "key", "problem"), [
    ("ca", "ca_file", "holds no PEM certificate"),
    ("cert", "cert_file", "holds no PEM certificate"),
    ("key", "key_file", "is not an unencrypted PEM private key"),
])
def test_tls_files_that_are_not_pem_are_refused(tmp_path: Path, sync_pki: LanePki,
                                                capsys: pytest.CaptureFixture[str], broken: str, key: str,
                                                problem: str) -> None:
    lane = sync_pki.lane("s1", "l1")
    paths = {"ca": sync_pki.ca.path, "cert": lane.cert, "key": lane.key}
    junk = secret(tmp_path / f"{broken}.der", "this is not PEM\n")
    paths[broken] = junk
    code, _, err = check(tls_config(tmp_path, paths["ca"], paths["cert"], paths["key"]), capsys)
    assert code == 2
    assert f"[mqtt] {key}: {junk} {problem}" in err and "Fix: " in err


def test_a_key_that_does_not_match_its_certificate_is_refused(tmp_path: Path, sync_pki: LanePki,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    lane, other = sync_pki.lane("s1", "l1"), sync_pki.lane("s1", "l2")
    code, _, err = check(tls_config(tmp_path, sync_pki.ca.path, lane.cert, other.key), capsys)
    assert code == 2
    assert f"[mqtt] key_file: {other.key} does not match the certificate {lane.cert}" in err


def test_a_bare_credential_name_without_a_credentials_directory_names_the_real_fix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.chdir(tmp_path)
    config = write(tmp_path, BASE + '[catalog]\nurl = "https://c.omo-mart.jp/c"\ntoken_file = "cloud.token"\n')
    code, _, err = check(config, capsys)
    assert code == 2
    assert "[catalog] token_file:" in err and "$CREDENTIALS_DIRECTORY is not set" in err
    assert "/usr/local/bin/omo-edge" in err and "CREDENTIALS_DIRECTORY=/etc/omo-edge/credentials" in err


def test_a_missing_absolute_secret_path_points_at_the_credentials_directory(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(tmp_path, BASE + '[catalog]\nurl = "https://c.omo-mart.jp/c"\n'
                   f'token_file = "{tmp_path}/cloud.token"\n')
    code, _, err = check(config, capsys)
    assert code == 2
    assert "does not exist" in err and 'token_file = "cloud.token"' in err


def test_the_example_names_its_secrets_bare() -> None:
    text = (ROOT / "config" / "agent.example.toml").read_text()
    assert 'token_file = "cloud.token"' in text
    assert "/etc/omo-edge/cloud.token" not in text
    assert os.sep not in text.split('token_file = "', 1)[1].split('"', 1)[0]
