"""TLS and credentials for the MQTT connection: a verifying SSL context, the password file, cert expiry.

Kept apart from agent/sync/mqtt/ so that it can be tested without a broker; it never turns verification off
(no `tls_insecure`): the CA is required, the hostname is checked, and `server_name` only changes which
name is checked (for brokers reached by IP address).
"""

from __future__ import annotations

import socket
import ssl
from datetime import datetime
from pathlib import Path

from agent.clock import SYSTEM_CLOCK
from agent.errors import ConfigError
from agent.sync.settings import MqttSection


class NamedContext(ssl.SSLContext):
    """An SSLContext that checks `server_name` instead of the host it connects to, when one is set."""

    server_name: str | None = None
    last_socket: ssl.SSLSocket | None = None

    def wrap_socket(self, sock: socket.socket, server_side: bool = False, do_handshake_on_connect: bool = True,
                    suppress_ragged_eofs: bool = True, server_hostname: str | bytes | None = None,
                    session: ssl.SSLSession | None = None) -> ssl.SSLSocket:
        wrapped = super().wrap_socket(sock, server_side, do_handshake_on_connect, suppress_ragged_eofs,
                                      self.server_name or server_hostname, session)
        self.last_socket = wrapped   # paho leaks the socket when the handshake fails; the caller closes it
        return wrapped


def ssl_context(section: MqttSection) -> NamedContext:
    """A client context that verifies the broker against `ca_file` and presents the client certificate."""
    if section.ca_file is None:
        raise ConfigError("tls = true needs ca_file; point it at the PEM file of the broker's CA", key="[mqtt] ca_file")
    context = NamedContext(ssl.PROTOCOL_TLS_CLIENT)   # check_hostname and CERT_REQUIRED are on by default
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cafile=str(section.ca_file))
    if section.cert_file is not None and section.key_file is not None:
        context.load_cert_chain(str(section.cert_file), str(section.key_file))
    context.server_name = section.server_name
    return context


def password(section: MqttSection) -> str | None:
    """The broker password from `password_file` (or its systemd credential), read at each connect."""
    if section.password_file is None:
        return None
    return Path(section.password_file).read_text(encoding="utf-8").strip()


def cert_expiry(path: Path | None) -> datetime | None:
    """When the client certificate stops being valid, so health can warn weeks ahead."""
    if path is None:
        return None
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return cert.not_valid_after_utc


def days_left(expiry: datetime | None, now: datetime | None = None) -> float | None:
    if expiry is None:
        return None
    return round((expiry - (now or SYSTEM_CLOCK.now())).total_seconds() / 86400, 1)


CERT_RENEW_DAYS = 21.0          # health turns degraded this long before the client certificate expires


def expiry_warning(cert_file: Path | None, expiry: datetime | None) -> str | None:
    """What health says weeks before the client certificate expires (after that the broker refuses the lane)."""
    left = days_left(expiry)
    if left is None or expiry is None or left >= CERT_RENEW_DAYS:
        return None
    return (f"client certificate {cert_file} expires in {max(left, 0):.0f} days ({expiry:%Y-%m-%d}); install a "
            "renewed certificate at that path and restart the service before then (a credential loaded with "
            "LoadCredential= is copied only at start), or the broker will refuse this lane")
