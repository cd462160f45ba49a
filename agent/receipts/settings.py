"""The lane's `[receipts]` config section: the printer, the shopper's default choice, the e-receipt link and the
key that signs its receipt IDs (docs/config.md).

The key is read from a credential file, never from the TOML: with it anyone could mint a link to any sale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.config_table import Table

CHOICES = ("paper", "app", "none")
LANGUAGES = ("ja", "en")


@dataclass(frozen=True, slots=True)
class ReceiptsSection:
    printer: Mapping[str, Any] | None = None   # {driver = "...", options...} for drivers.printers.open_printer
    default: str = "paper"                     # the choice already made on the paid screen: paper | app | none
    link_template: str | None = None           # e-receipt URL with {receipt_id}; none: no QR, no link
    key_file: Path | None = None               # HMAC-SHA256 key for receipt IDs (a credential file)
    near_end_call: bool = True                 # paper near its end: call an attendant before it runs out
    poll_s: float = 5.0                        # printer status poll while idle

    def key(self) -> bytes | None:
        """The signing key's bytes (read when the lane starts; whitespace around it is not part of it)."""
        return None if self.key_file is None else self.key_file.read_bytes().strip()


def parse_receipts(t: Table, check: bool = True) -> ReceiptsSection:
    """`[receipts]`; every key optional. A link template needs `{receipt_id}` and a signing key; with `check` the
    printer's driver validates its options (without opening the device)."""
    printer = t.table("printer") or None
    section = ReceiptsSection(
        printer=printer, default=t.choice("default", "paper", CHOICES),
        link_template=t.optional_str("link_template"), key_file=t.secret_file("key_file"),
        near_end_call=t.boolean("near_end_call", True), poll_s=t.number("poll_s", 5.0))
    t.finish()
    if section.link_template is not None and "{receipt_id}" not in section.link_template:
        raise t.error("link_template", "has no {receipt_id}",
                      'write link_template = "https://r.example.com/{receipt_id}"')
    if section.link_template is not None and section.key_file is None:
        raise t.error("key_file", "is required with link_template (receipt IDs are signed)",
                      'put 32 random bytes in /etc/omo-edge/credentials/receipt-key (root, 0600) and write '
                      'key_file = "receipt-key"')
    if not 0.5 <= section.poll_s <= 600:
        raise t.error("poll_s", f"{section.poll_s} is out of range", "use a number of seconds from 0.5 to 600")
    if printer is not None and not isinstance(printer.get("driver"), str):
        raise t.error("printer", "needs a `driver`", 'write printer = { driver = "escpos_usb", profile = "tm-t20" }')
    if printer is not None and check:
        _check_printer(t, printer)
    return section


def _check_printer(t: Table, printer: Mapping[str, Any]) -> None:
    """Let the printer driver validate its options now, so a typo fails `config check`, not the first receipt."""
    from drivers.base import DriverOptionError
    from drivers.printers import open_printer

    try:
        open_printer(str(printer["driver"]), {k: v for k, v in printer.items() if k != "driver"})
    except LookupError as exc:     # no such driver in the omo_edge.printers group
        raise t.error("printer", str(exc), "name a driver of the omo_edge.printers group") from None
    except DriverOptionError as exc:
        raise t.error(f"printer.{exc.key}" if exc.key else "printer", str(exc),
                      "see docs/drivers.md for the printer driver's keys") from None
