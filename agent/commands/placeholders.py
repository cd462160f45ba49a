"""What a valid config still has of the example's placeholders, for `config check`'s warning block.

None of these stops the agent (a lane may start before its scanner is plugged in), so they are warnings, not
refusals: the example's IDs and hosts, credential files that are still empty, device paths that are not
present, and a payment adapter that takes no payments. Each one names the key and the real fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from agent.config import Config

EXAMPLE_IDS = {"store_id": "store-001", "lane_id": "lane-01"}
EXAMPLE_HOST = re.compile(r"(^|[./])example(\.(com|net|org))?($|[:/])")


def placeholder_warnings(config: Config) -> list[str]:
    """One line per placeholder: `[section] key: what. Fix: how`."""
    return [*_example_ids(config), *_empty_credentials(config), *_example_hosts(config), *_payment(config),
            *_absent_devices(config)]


def _example_ids(config: Config) -> Iterator[str]:
    for key, example in EXAMPLE_IDS.items():
        if getattr(config.agent, key) == example:
            yield (f"[agent] {key}: \"{example}\" is the example's. Fix: set this lane's own {key} (it names the "
                   "lane in every topic and event, and in its certificate's CN)")


def _empty_credentials(config: Config) -> Iterator[str]:
    secrets = [("catalog", "token_file", config.catalog.token_file if config.catalog else None),
               ("mqtt", "key_file", config.mqtt.key_file if config.mqtt else None),
               ("mqtt", "password_file", config.mqtt.password_file if config.mqtt else None),
               ("payment", "api_secret_file", config.payment.api_secret_file)]
    for section, key, path in secrets:
        if path is not None and _size(path) == 0:
            yield (f"[{section}] {key}: {path} is empty. Fix: put the secret in /etc/omo-edge/credentials/"
                   f"{path.name} (root, 0600), then restart the service (credentials are copied at start)")


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _example_hosts(config: Config) -> Iterator[str]:
    urls = [("catalog", "url", config.catalog.url if config.catalog else ""),
            ("mqtt", "host", config.mqtt.host if config.mqtt else ""),
            ("mqtt", "server_name", (config.mqtt.server_name or "") if config.mqtt else ""),
            ("payment", "base_url", config.payment.base_url)]
    for section, key, value in urls:
        if value and EXAMPLE_HOST.search(value.lower()):
            yield (f"[{section}] {key}: \"{value}\" is an example host. Fix: use your cloud's address "
                   "(docs/config.md)")


def _payment(config: Config) -> Iterator[str]:
    if config.payment.adapter == "none":
        yield ("[payment] adapter = \"none\": this lane takes no payments, so no shopper can pay. Fix: name the "
               "store's payment adapter, such as adapter = \"paypay\" with its keys (docs/payment.md)")


def _absent_devices(config: Config) -> Iterator[str]:
    for device in config.devices:
        for key, value in device.options.items():
            if isinstance(value, str) and value.startswith("/dev/") and not Path(value).exists():
                yield (f"[devices {device.name}] {key}: {value} is not present. Fix: plug the device in, or run "
                       "`sudo -u omo-edge omo-edge doctor` for the paths this register has and the table to paste")
