"""Scales (UnifiedPOS "Scale"): a reading, the shape of a scale driver, and its loader.

A lane weighs for two reasons. Selling by weight needs a *stable* weight (`read_stable`: it waits out the
motion of an item just put down); a display, or a bagging-area check, follows the *live* weight (`live()`,
polled at `rate_hz`). Every reading carries the status bits UnifiedPOS names: motion, under zero, over
capacity, needs zeroing. Weights are integer milligrams, never floats, so a weight compares and adds exactly.

    async with open_scale("toledo8217", {"port": "/dev/serial/by-id/usb-..."}) as scale:
        reading = await scale.read_stable(timeout_s=3)
        async for reading in scale.live(): ...

A scale that is absent, unplugged or answers nothing usable raises `DeviceUnavailable` (with its fix); a
garbled reply is skipped and counted (`counters()`), never raised. Like every driver, a scale knows nothing of
visits and never imports `agent`.

Scales are found by name in the entry-point group `omo_edge.scales`; each entry point names a factory
`factory(options) -> Scale` that validates its options without touching the device (so `config check` can).
Built-ins are in `BUILTIN` so that finding them reads no installed package's metadata.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self, cast

from drivers.plugins import Plugins

GROUP = "omo_edge.scales"
BUILTIN = {"toledo8217": "drivers.scale_toledo:ToledoScale", "scp01": "drivers.scale_scp01:Scp01Scale",
           "cas_pd2": "drivers.scale_cas:CasScale", "hid_scale": "drivers.scale_hid:HidScale"}
MG_PER_LB_NUM, MG_PER_LB_DEN = 45_359_237, 100    # 1 lb = 453 592.37 mg exactly (international pound)


@dataclass(frozen=True, slots=True)
class Reading:
    """One weight as the scale reported it; `weight_mg` is net of the scale's zero (negative under zero)."""

    weight_mg: int
    stable: bool              # no motion and in range: a weight that may be sold
    motion: bool
    under_zero: bool
    over_capacity: bool
    needs_zeroing: bool       # the scale lost (or never captured) its zero: zero it before selling
    received_at: float        # time.monotonic() when the reply was complete


def reading(weight_mg: int, received_at: float, *, motion: bool = False, under_zero: bool = False,
            over_capacity: bool = False, needs_zeroing: bool = False) -> Reading:
    """A Reading whose `stable` follows from the status: still, in range and zeroed."""
    stable = not (motion or under_zero or over_capacity or needs_zeroing)
    return Reading(weight_mg, stable, motion, under_zero, over_capacity, needs_zeroing, received_at)


def scaled_mg(value: int, decimals: int, unit: str) -> int:
    """`value` x 10^-decimals in `unit` (mg, g, kg, lb, oz) as integer milligrams, rounded half up where a
    pound or an ounce is not a whole number of milligrams."""
    num: int
    den: int
    num, den = {"mg": (1, 1), "g": (1000, 1), "kg": (1_000_000, 1), "lb": (MG_PER_LB_NUM, MG_PER_LB_DEN),
                "oz": (MG_PER_LB_NUM, MG_PER_LB_DEN * 16)}[unit]
    if decimals >= 0:
        num_total, den_total = value * num, den * 10 ** decimals
    else:
        num_total, den_total = value * num * 10 ** -decimals, den
    sign = -1 if num_total < 0 else 1
    rounded: int = (abs(num_total) * 2 + den_total) // (2 * den_total)
    return sign * rounded


class Scale(Protocol):
    """One scale: `async with` opens it; `read_stable` waits for a weight to sell; `live` follows the display."""

    name: str

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None: ...

    async def read_stable(self, timeout_s: float) -> Reading: ...

    def live(self) -> AsyncIterator[Reading]: ...

    async def zero(self) -> None: ...

    def counters(self) -> Mapping[str, int]: ...


class ScaleFactory(Protocol):
    """Builds a scale from its options without touching the device."""

    def __call__(self, options: Mapping[str, object]) -> Scale: ...


class UnknownScale(LookupError):
    """Neither a built-in nor an installed distribution registers a scale of that name."""


class NoStableWeight(TimeoutError):
    """The scale kept moving (or stayed out of range) until the timeout: there is no weight to sell yet."""

    def __init__(self, last: Reading | None, timeout_s: float) -> None:
        self.last = last
        state = "no reading" if last is None else _describe(last)
        super().__init__(f"no stable weight within {timeout_s:g} s (last: {state}). "
                         "Fix: let the item rest on the platter; zero an empty scale that needs it")


class ZeroNotSupported(NotImplementedError):
    """The protocol has no zero command: the scale is zeroed with its own key."""


def _describe(r: Reading) -> str:
    flags = [name for name in ("motion", "under_zero", "over_capacity", "needs_zeroing") if getattr(r, name)]
    return f"{r.weight_mg} mg" + (f", {', '.join(flags)}" if flags else "")


def available() -> list[str]:
    """Names of every scale driver: the built-ins and those registered by installed packages."""
    return _PLUGINS.available()


def load(name: str) -> ScaleFactory:
    """Import and return the factory registered as `name` (a built-in without reading any metadata)."""
    return _PLUGINS.load(name)


def open_scale(driver: str, options: Mapping[str, object]) -> Scale:
    """Build (not yet open: `async with` opens it) the scale `driver`; a bad option is a DriverOptionError."""
    return cast(Scale, _PLUGINS.build(driver, options))


_PLUGINS = Plugins[ScaleFactory]("scale", GROUP, BUILTIN, UnknownScale)
