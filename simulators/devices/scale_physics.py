"""A scale platter's physics, pure and seeded: what a load cell would show at time `at`.

Items are placed and lifted; each change swings the reading (a damped oscillation) for `settle_s`, during
which the scale reports motion. On top: noise (Gaussian, in milligrams), a slow drift of the zero, vibration
bursts (a trolley bumping the lane: motion with a larger swing), an item resting partly off the platter (it
reads low by the part outside), capacity and under zero. Every reading is rounded to the scale's division as
a real indicator does, so a still, quiet platter shows exactly the weight put on it.

Time is a parameter (seconds, any monotonic origin): no clock and no I/O here, so tests drive it exactly. The
protocol simulators (scale.py) sample it with time.monotonic().
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sample:
    """What the indicator shows: the net weight rounded to the division, and its status."""

    weight_mg: int
    motion: bool
    under_zero: bool
    over_capacity: bool
    needs_zeroing: bool


@dataclass(frozen=True, slots=True)
class Item:
    mass_mg: int
    on_platter: float = 1.0           # the share of its weight the platter carries (1.0: fully on it)

    @property
    def load_mg(self) -> float:
        return self.mass_mg * self.on_platter


class ScalePhysics:
    """One platter. Defaults: a 15 kg POS scale with a 1 g division, quiet and still; every effect is a knob."""

    def __init__(self, *, seed: int = 0, capacity_mg: int = 15_000_000, division_mg: int = 1000,
                 settle_s: float = 0.5, noise_mg: float = 100.0, drift_mg_per_min: float = 0.0,
                 zero_limit_mg: int = 20_000, started_at: float = 0.0) -> None:
        self._random = random.Random(seed)
        self.capacity_mg = capacity_mg
        self.division_mg = division_mg
        self.settle_s = settle_s
        self.noise_mg = noise_mg
        self.drift_mg_per_min = drift_mg_per_min
        self.zero_limit_mg = zero_limit_mg    # a zero that drifted further than this must be zeroed again
        self.items: list[Item] = []
        self._zero_mg = 0.0                   # the load the indicator calls zero
        self._zero_at = started_at            # drift counts from the last zeroing
        self._lost_zero = False
        self._change_at = -math.inf
        self._swing_mg = 0.0                  # the size of the last change: the oscillation's amplitude
        self._bursts: list[tuple[float, float, float]] = []    # (start, end, amplitude_mg)

    def place(self, mass_mg: int, at: float, *, on_platter: float = 1.0) -> None:
        """Put an item down; `on_platter` below 1 leaves part of it resting outside (it reads low)."""
        if not 0.0 <= on_platter <= 1.0:
            raise ValueError("on_platter is the share of the item on the platter: 0.0 to 1.0")
        self.items.append(Item(mass_mg, on_platter))
        self._changed(at, mass_mg * on_platter)

    def lift(self, mass_mg: int, at: float) -> None:
        """Take an item of `mass_mg` off (the first such); lifting what is not there takes weight off the
        zero, as a hand pressing up under the platter or a tare lifted off would: it reads under zero."""
        for i, item in enumerate(self.items):
            if item.mass_mg == mass_mg:
                del self.items[i]
                self._changed(at, item.load_mg)
                return
        self._zero_mg += mass_mg
        self._changed(at, mass_mg)

    def vibrate(self, at: float, duration_s: float, amplitude_mg: float) -> None:
        """A vibration burst from `at` for `duration_s`: the reading swings and the scale reports motion."""
        self._bursts.append((at, at + duration_s, amplitude_mg))

    def lose_zero(self) -> None:
        """The scale lost its zero (a power dip with a load on it): it asks to be zeroed."""
        self._lost_zero = True

    def zero(self, at: float) -> None:
        """The indicator's zero key: whatever rests on the platter now reads 0."""
        self._zero_at = at                    # the drift so far is zeroed away with the load
        self._zero_mg = self._gross(at)
        self._lost_zero = False
        self._changed(at, 0.0)

    def sample(self, at: float) -> Sample:
        """The reading at `at`, with its status (advances the random stream: noise is drawn per sample)."""
        gross = self._gross(at)
        moving = at - self._change_at < self.settle_s
        swing = 0.0
        if moving:
            age = at - self._change_at
            swing = self._swing_mg * math.exp(-4 * age / self.settle_s) * math.cos(2 * math.pi * 3 * age)
        for start, end, amplitude in self._bursts:
            if start <= at < end:
                moving = True
                swing += amplitude * math.sin(2 * math.pi * 7 * (at - start))
        noise = self._random.gauss(0.0, self.noise_mg) if self.noise_mg else 0.0
        net = gross + swing + noise - self._zero_mg
        shown = round(net / self.division_mg) * self.division_mg
        drift = self._drift(at)
        return Sample(weight_mg=int(shown), motion=moving, under_zero=shown < 0,
                      over_capacity=gross - self._zero_mg > self.capacity_mg + 9 * self.division_mg,
                      needs_zeroing=self._lost_zero or abs(drift) > self.zero_limit_mg)

    def _gross(self, at: float) -> float:
        """Everything the load cell carries: the items (their part on the platter) and the zero's drift."""
        return sum(item.load_mg for item in self.items) + self._drift(at)

    def _drift(self, at: float) -> float:
        return self.drift_mg_per_min * max(0.0, at - self._zero_at) / 60

    def _changed(self, at: float, size_mg: float) -> None:
        self._change_at = at
        self._swing_mg = max(size_mg * 0.3, float(self.division_mg))
