"""The random audit's comparison (pure): what the basket says against what staff rescanned, as two multisets.

Why multisets: a partial rescan counts units per GTIN, not lines (the same item on two lines is one count), and
the differences a rescan can find are differences of counts. Each GTIN met on one side and not the other, or
with another count, gives one difference, so the differences say exactly how to turn the basket's counts into
the counts found (the property tests check that against plain `Counter` arithmetic):

- `missing_item`: found, and not in the basket's audited lines at all (bagged without a scan);
- `quantity_low`: in the basket fewer times than found (some units were not scanned);
- `quantity_high`: in the basket more times than found (scanned but not there, or scanned twice);
- `different_item`: a basket GTIN not found at all, paired with a found GTIN not in the basket (a cheap item
  scanned and another one bagged). Pairs are made in GTIN order, so the same counts always give the same pairs;
  what is left unpaired is `missing_item` or `quantity_high` (found 0).

The counts found above the basket's (`extra`) are what staff may add to the basket; none is ever taken off.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

KINDS = ("missing_item", "quantity_low", "quantity_high", "different_item")


@dataclass(frozen=True, slots=True)
class Difference:
    kind: str                       # one of KINDS
    gtin: str                       # the GTIN whose count differs (the one found, for a different item)
    basket_quantity: int            # units of `gtin` on the audited lines
    found_quantity: int             # units of `gtin` rescanned
    replaces: str | None = None     # different_item: the basket's GTIN that was not found
    replaces_quantity: int = 0      # different_item: the units of `replaces` on the audited lines

    @property
    def extra(self) -> int:
        """Units found above the basket's count: what is missing from the basket."""
        return max(0, self.found_quantity - self.basket_quantity)


def counts(gtins: Iterable[tuple[str, int]]) -> dict[str, int]:
    """A multiset from (GTIN, units) pairs, zero counts left out."""
    out: dict[str, int] = {}
    for gtin, units in gtins:
        if units:
            out[gtin] = out.get(gtin, 0) + units
    return out


def compare(basket: Mapping[str, int], found: Mapping[str, int]) -> tuple[Difference, ...]:
    """The differences between the audited lines' counts and the counts rescanned, in GTIN order."""
    only_basket = sorted(g for g, n in basket.items() if n > 0 and found.get(g, 0) <= 0)
    only_found = sorted(g for g, n in found.items() if n > 0 and basket.get(g, 0) <= 0)
    pairs = dict(zip(only_found, only_basket, strict=False))      # found GTIN -> the basket GTIN it replaced
    paired = set(pairs.values())
    out: list[Difference] = []
    for gtin in sorted(set(basket) | set(found)):
        have, seen = max(0, basket.get(gtin, 0)), max(0, found.get(gtin, 0))
        if have == seen or gtin in paired:
            continue
        if gtin in pairs:
            out.append(Difference("different_item", gtin, 0, seen, pairs[gtin], basket[pairs[gtin]]))
        elif have == 0:
            out.append(Difference("missing_item", gtin, 0, seen))
        else:
            out.append(Difference("quantity_low" if have < seen else "quantity_high", gtin, have, seen))
    return tuple(out)


def as_event(differences: Iterable[Difference]) -> list[dict[str, object]]:
    """The differences as the `omo.audit/1` event and the receipt carry them."""
    return [{"kind": d.kind, "gtin": d.gtin, "basket_quantity": d.basket_quantity,
             "found_quantity": d.found_quantity,
             **({"replaces": d.replaces, "replaces_quantity": d.replaces_quantity} if d.replaces else {})}
            for d in differences]
