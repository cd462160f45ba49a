"""Whether TLS files are what the MQTT connection will load: PEM certificates, an unencrypted PEM key that
matches its certificate. `config check` and `run` call check_tls_files after loading the config.

Python's ssl module reports a bad file only at connect time, and then as "[X509] PEM lib"; reading the files
with `cryptography` here lets `config check` name the file and the fix before the service starts. cryptography
is imported by the checks that read a file, so a lane without TLS never loads it (idle memory, ~11 MB).
"""

from __future__ import annotations

from pathlib import Path

from agent.errors import ConfigError
from agent.sync.settings import MqttSection

Problem = tuple[str, str]


def _read(path: Path) -> bytes | Problem:
    try:
        return path.read_bytes()
    except OSError as exc:
        return f"cannot be read ({exc.strerror})", "check the path and give the service user read access"


def ca_problem(path: Path) -> Problem | None:
    """The broker's CA: one or more PEM certificates."""
    data = _read(path)
    if isinstance(data, tuple):
        return data
    from cryptography import x509

    try:
        x509.load_pem_x509_certificates(data)
    except ValueError:
        return ("holds no PEM certificate", "use the CA certificate in PEM form (text starting with -----BEGIN "
                "CERTIFICATE-----; convert DER with: openssl x509 -inform der -in ca.der -out ca.pem)")
    return None


def cert_problem(path: Path) -> Problem | None:
    """The lane's client certificate: PEM."""
    problem = ca_problem(path)
    if problem is None:
        return None
    if problem[0] == "holds no PEM certificate":
        return problem[0], ("use the lane's certificate in PEM form (-----BEGIN CERTIFICATE-----; convert DER with: "
                            "openssl x509 -inform der -in lane.der -out lane.pem)")
    return problem


def key_problem(path: Path, cert: Path | None) -> Problem | None:
    """The lane's private key: unencrypted PEM, and the key of `cert` (the certificate it is presented with)."""
    data = _read(path)
    if isinstance(data, tuple):
        return data
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        return ("is not an unencrypted PEM private key", "use the key in PEM form without a passphrase (the "
                "service cannot type one): openssl pkey -in lane.key -out lane-plain.key")
    if cert is None:
        return None
    try:
        certificate = x509.load_pem_x509_certificates(cert.read_bytes())[0]
    except (OSError, ValueError):
        return None          # the certificate's own check names that problem
    if certificate.public_key() != key.public_key():
        return (f"does not match the certificate {cert}", "install the key issued with that certificate, or the "
                "certificate issued for this key (openssl x509 -noout -pubkey -in CERT and openssl pkey -pubout "
                "-in KEY must print the same)")
    return None


def check_tls_files(section: MqttSection | None, config_path: str) -> None:
    """Raise ConfigError naming the file, `[mqtt] key` and the fix for the first TLS file the connection could
    not load, so a bad file fails before the service starts rather than at its first connect."""
    if section is None or not section.tls:
        return
    checks = (("ca_file", section.ca_file, ca_problem), ("cert_file", section.cert_file, cert_problem))
    for key, path, check in checks:
        problem = check(path) if path is not None else None
        if problem is not None:
            raise ConfigError(f"{path} {problem[0]}. Fix: {problem[1]}", path=config_path, key=f"[mqtt] {key}")
    if section.key_file is not None:
        problem = key_problem(section.key_file, section.cert_file)
        if problem is not None:
            raise ConfigError(f"{section.key_file} {problem[0]}. Fix: {problem[1]}", path=config_path,
                              key="[mqtt] key_file")
