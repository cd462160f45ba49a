"""A product's weight learned from accepted visits (pure): the median of what the bag gained, and its spread.

Why median and MAD: a sample now and then is wrong (two items put down at once, a hand resting on the bag),
and a mean and standard deviation follow such an outlier; the median and the median absolute deviation
ignore up to half the samples being wild. The tolerance is 3 x 1.4826 x MAD (about three standard deviations
of a normal spread), never below the lane's floor, so a product always weighed alike is not held to 0 mg.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True, slots=True)
class Learned:
    gtin: str
    weight_mg: int
    tolerance_mg: int
    samples: int


def median(values: Sequence[int]) -> int:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) // 2


def learn(gtin: str, samples: Sequence[int], *, min_samples: int, floor_mg: int) -> Learned | None:
    """The learned weight of `gtin` from its samples (mg), or None while there are fewer than `min_samples`."""
    if len(samples) < min_samples:
        return None
    centre = median(samples)
    mad = median([abs(s - centre) for s in samples])
    tolerance = max(floor_mg, round(3 * MAD_TO_SIGMA * mad))
    return Learned(gtin, centre, tolerance, len(samples))
