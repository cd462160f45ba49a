"""Which colour the lane light shows (pure): UnifiedPOS "Lights" as a tower light over the register.

Red: out of order (the lane locked or closed, or a part it cannot sell without is down); flashing yellow: a call
for help is open; green: free. Out of order wins, since a locked lane with an open call still cannot take anyone.
"""

from __future__ import annotations

SIGNALS = ("green", "yellow_flashing", "red", "off")


def light_for(*, out_of_order: bool, open_calls: int) -> str:
    """The signal's name (drivers.lights.Signal's value) for the lane as it stands."""
    if out_of_order:
        return "red"
    if open_calls > 0:
        return "yellow_flashing"
    return "green"
