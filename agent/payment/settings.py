"""The `[payment]` config section: which adapter takes payments, its service's address and keys, its timings.

Parsed once at start like every section (agent/config.py assembles them); the adapter registry builds the
adapter from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent.config_table import Table


@dataclass(frozen=True, slots=True)
class PaymentSection:
    adapter: str = "none"                   # none (no payments taken) | simulated (allow_simulators) | paypay | ...
    timeout_s: int = 30                     # a reply later than this is an unknown result, never a retry
    simulated_outcome: str = "approve"      # the simulated adapter's answer: approve | decline | timeout
    simulated_latency_ms: int = 0
    base_url: str = ""                      # paypay: the Open Payment API's base URL
    merchant_id: str = ""
    api_key_id: str = ""
    api_secret_file: Path | None = None     # a secret: not world-readable, or a systemd credential
    qr_expiry_s: int = 300                  # merchant-presented: how long the shown QR may be paid
    poll_interval_s: float = 2.5            # how often a waiting payment's status is asked
    unknown_timeout_s: int = 120            # still unknown after this long: cancel (or refund) it, never guess
    cancel_zone: str = "Asia/Tokyo"         # the zone of the service's cancel window (00:14:59 the next day)
    simulated_app_pays_after_s: float = 3.0  # the simulated app pays a shown QR after this long (< 0: never)


def parse_payment(t: Table, allow_simulators: bool) -> PaymentSection:
    """`[payment]`; every key optional. The simulated adapter only where `[agent] allow_simulators` is true."""
    section = PaymentSection(
        adapter=t.string("adapter", "none", pattern=r"[a-z0-9_.+-]+"),
        timeout_s=t.integer("timeout_s", 30, 1, 600),
        simulated_outcome=t.choice("simulated_outcome", "approve", ("approve", "decline", "timeout")),
        simulated_latency_ms=t.integer("simulated_latency_ms", 0, 0, 600_000),
        base_url=t.string("base_url", ""),
        merchant_id=t.string("merchant_id", ""),
        api_key_id=t.string("api_key_id", ""),
        api_secret_file=t.secret_file("api_secret_file"),
        qr_expiry_s=t.integer("qr_expiry_s", 300, 30, 3600),
        poll_interval_s=t.number("poll_interval_s", 2.5),
        unknown_timeout_s=t.integer("unknown_timeout_s", 120, 5, 86400),
        cancel_zone=t.string("cancel_zone", "Asia/Tokyo"),
        simulated_app_pays_after_s=t.number("simulated_app_pays_after_s", 3.0),
    )
    t.finish()
    if section.adapter == "simulated" and not allow_simulators:
        raise t.error("adapter", "'simulated' is a simulator: it approves payments and no money moves",
                      "name the store's payment adapter (for example \"paypay\", docs/payment.md), or set "
                      "allow_simulators = true in [agent] on a development lane")
    if not 0.2 <= section.poll_interval_s <= 60:
        raise t.error("poll_interval_s", f"{section.poll_interval_s} is out of range",
                      "use 0.2 to 60 seconds (the service asks for 2 to 3)")
    try:
        ZoneInfo(section.cancel_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise t.error("cancel_zone", f"{section.cancel_zone!r} is not a time zone ({type(exc).__name__})",
                      "use an IANA zone name such as \"Asia/Tokyo\" (install tzdata if none is found)") from None
    url = section.base_url
    if url and not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise t.error("base_url", f"{url!r} is not https", "use the service's https:// URL (plain http only to "
                      "this machine, for the simulator)")
    return section
