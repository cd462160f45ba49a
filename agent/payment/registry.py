"""Payment adapters by name, from the entry-point group `omo_edge.payments`, so a wallet plugs in as a package.

Each entry point names a factory `build(section: PaymentSection) -> PaymentAdapter`. Only the configured one
is imported.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import cast

from agent.errors import ConfigError
from agent.payment.adapter import PaymentAdapter
from agent.payment.settings import PaymentSection

GROUP = "omo_edge.payments"
# Built-in adapters are found without scanning installed packages' metadata (20 ms of start-up); the
# entry points are read only for a name that is not built in, such as a wallet's own package.
BUILTIN = {"none": "agent.payment.none", "simulated": "agent.payment.simulated", "paypay": "agent.payment.paypay"}


def build_adapter(section: PaymentSection) -> PaymentAdapter:
    """The adapter `[payment] adapter` names; ConfigError naming the installed ones when it is unknown."""
    if section.adapter in BUILTIN:
        module = importlib.import_module(BUILTIN[section.adapter])
        return cast(PaymentAdapter, module.build(section))
    found = {ep.name: ep for ep in entry_points(group=GROUP)}
    entry = found.get(section.adapter)
    if entry is None:
        raise ConfigError(f"no payment adapter named {section.adapter!r} (installed: {', '.join(sorted(found))}). "
                          "Fix: use one of those, or install the adapter's package", key="[payment] adapter")
    factory = cast(Callable[[PaymentSection], PaymentAdapter], entry.load())
    return factory(section)
