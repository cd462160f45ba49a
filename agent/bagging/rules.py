"""The bag's weight against what was scanned (pure): every step takes the watch and returns it with what to do.

After each scan the lane expects the bag to gain that item's weight, within its tolerance. A settled gain that
matches an item waiting to be bagged is accepted; a gain that matches nothing is `unexpected_item`; a settled
loss is `item_removed`; an item not bagged within `place_timeout_s` gets the prompt "place the item in the
bag", and `call_after_s` later an `item_not_bagged` call. "Skip bagging" takes an item off the watch: allowed
up to `skip_max_g`, above it a `skip_bagging` call. The shopper's own bag is accepted once, before the first
item is bagged, up to `bag_allowance_g` (a gain that matches no scanned item: the bag is put down as the first
item is scanned). A visit is judged from its first scan against the bag area as the last visit left it, less
what was lifted off since.

Only settled (stable) weights count: a scale in motion says nothing yet. While a call is open no other call is
raised (staff look at the whole bag anyway), and its resolution takes the bag as it is then as the new
baseline. A watch that is `degraded` (the scale offline, or in motion too long) raises nothing: a scale never
blocks a sale by itself.

A settled weight within `min_change_g` of the baseline becomes the baseline: the zero drifts slowly (heat,
creep) and a lane open all day would otherwise call on an empty bag area. Weights are integer milligrams. An
item whose weight is unknown (not in the catalog, not yet learned) accepts the first settled gain as its
weight and reports it as a `Sample` for learning.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from agent.bagging.settings import MG_PER_G, BaggingSection

REASONS = ("unexpected_item", "item_not_bagged", "item_removed", "skip_bagging")


@dataclass(frozen=True, slots=True)
class Expected:
    """One scanned unit waiting to be bagged."""

    line_id: str
    gtin: str
    weight_mg: int | None               # None: unknown, learned from this weighing
    tolerance_mg: int
    scanned_at: float
    prompted: bool = False


@dataclass(frozen=True, slots=True)
class Call:
    """A disagreement for staff, with the weights they and the cloud need: the expected and measured change of
    the bag and the tolerance it was judged with (mg), and the bag's weight when it was judged."""

    reason: str
    line_id: str | None
    gtin: str | None
    expected_mg: int
    measured_mg: int
    tolerance_mg: int
    bag_mg: int

    def weights(self) -> dict[str, int]:
        return {"expected_mg": self.expected_mg, "measured_mg": self.measured_mg,
                "tolerance_mg": self.tolerance_mg, "bag_mg": self.bag_mg}


@dataclass(frozen=True, slots=True)
class PlacePrompt:
    """Tell the shopper to put the item in the bag (no call yet)."""

    line_id: str


@dataclass(frozen=True, slots=True)
class Sample:
    """An accepted weighing of one unit of `gtin` whose weight was unknown: a sample for learning."""

    gtin: str
    weight_mg: int


Action = Call | PlacePrompt | Sample


@dataclass(frozen=True, slots=True)
class Bag:
    """The watch over one visit's bag."""

    baseline_mg: int | None = 0         # the settled weight everything so far accounts for (None: not read yet)
    active: bool = False                # a visit has scanned something: until then the bag area is not judged
    last_stable_mg: int | None = None
    pending: tuple[Expected, ...] = ()
    bagged: int = 0                     # units accepted into the bag this visit
    own_bag: bool = False               # the personal bag allowance is used
    calling: str | None = None          # the reason of the open call, if any
    calling_line: str | None = None     # the line it is about, if any
    degraded: bool = False


def scanned(bag: Bag, item: Expected | None, s: BaggingSection) -> Bag:
    """A unit scanned; None for one the scale does not check (weight exempt)."""
    if not bag.active:
        bag = _open(bag, s)
    if item is None or bag.degraded:
        return replace(bag, active=True)
    return replace(bag, active=True, pending=(*bag.pending, item))


def _open(bag: Bag, s: BaggingSection) -> Bag:
    """The visit's first scan: a bag put down before it, within the allowance, is the shopper's own."""
    if bag.baseline_mg is None or bag.last_stable_mg is None:
        return bag
    gain = bag.last_stable_mg - bag.baseline_mg
    if s.min_change_g * MG_PER_G <= gain <= s.bag_allowance_g * MG_PER_G:
        return replace(bag, baseline_mg=bag.last_stable_mg, own_bag=True)
    return bag


def weighed(bag: Bag, weight_mg: int, stable: bool, s: BaggingSection) -> tuple[Bag, tuple[Action, ...]]:
    """A reading of the bagging-area scale; only a stable one is judged."""
    if not stable or bag.degraded:
        return bag, ()
    bag = replace(bag, last_stable_mg=weight_mg)
    if bag.baseline_mg is None:
        return replace(bag, baseline_mg=weight_mg), ()
    delta = weight_mg - bag.baseline_mg
    noise = s.min_change_g * MG_PER_G
    if abs(delta) < noise or (not bag.active and delta < 0):
        # The zero's slow drift is followed, as a scale's zero tracking does; and between visits, what is lifted
        # off (the last shopper's bags) leaves the bag area as it now is.
        return replace(bag, baseline_mg=weight_mg), ()
    if not bag.active or bag.calling is not None:
        return bag, ()
    if delta < 0:
        return _call(bag, Call("item_removed", None, None, 0, delta, noise, weight_mg))
    return _gain(bag, delta, weight_mg, s)


def _gain(bag: Bag, delta: int, weight_mg: int, s: BaggingSection) -> tuple[Bag, tuple[Action, ...]]:
    known = [e for e in bag.pending if e.weight_mg is not None]
    for item in known:
        if abs(delta - (item.weight_mg or 0)) <= item.tolerance_mg:
            return _accept(bag, weight_mg, (item,)), ()
    if len(known) > 1 and abs(delta - sum(e.weight_mg or 0 for e in known)) <= sum(e.tolerance_mg for e in known):
        return _accept(bag, weight_mg, tuple(known)), ()     # several put down at once
    unknown = next((e for e in bag.pending if e.weight_mg is None), None)
    if unknown is not None:
        return _accept(bag, weight_mg, (unknown,)), (Sample(unknown.gtin, delta),)
    if not bag.own_bag and bag.bagged == 0 and delta <= s.bag_allowance_g * MG_PER_G:
        return replace(bag, baseline_mg=weight_mg, own_bag=True), ()
    first = bag.pending[0] if bag.pending else None
    return _call(bag, Call("unexpected_item", None if first is None else first.line_id,
                           None if first is None else first.gtin,
                           0 if first is None else first.weight_mg or 0, delta,
                           s.min_change_g * MG_PER_G if first is None else first.tolerance_mg, weight_mg))


def _accept(bag: Bag, weight_mg: int, items: tuple[Expected, ...]) -> Bag:
    ids = {id(e) for e in items}
    return replace(bag, baseline_mg=weight_mg, pending=tuple(e for e in bag.pending if id(e) not in ids),
                   bagged=bag.bagged + len(items))


def _call(bag: Bag, call: Call) -> tuple[Bag, tuple[Action, ...]]:
    return replace(bag, calling=call.reason, calling_line=call.line_id), (call,)


def tick(bag: Bag, at: float, s: BaggingSection) -> tuple[Bag, tuple[Action, ...]]:
    """Time passes: the oldest unbagged item is prompted for, then called."""
    if bag.degraded or bag.calling is not None or not bag.pending:
        return bag, ()
    first = bag.pending[0]
    waited = at - first.scanned_at
    if waited >= s.place_timeout_s + s.call_after_s:
        measured = (bag.last_stable_mg or 0) - (bag.baseline_mg or 0)
        return _call(bag, Call("item_not_bagged", first.line_id, first.gtin, first.weight_mg or 0, measured,
                               first.tolerance_mg, bag.last_stable_mg or 0))
    if waited >= s.place_timeout_s and not first.prompted:
        return replace(bag, pending=(replace(first, prompted=True), *bag.pending[1:])), (PlacePrompt(first.line_id),)
    return bag, ()


def skip(bag: Bag, s: BaggingSection) -> tuple[Bag, tuple[Action, ...]]:
    """The shopper's "skip bagging" for the last item scanned: off the watch, a call above `skip_max_g`."""
    if not bag.pending:
        return bag, ()
    item = bag.pending[-1]
    bag = replace(bag, pending=bag.pending[:-1])
    if item.weight_mg is not None and item.weight_mg <= s.skip_max_g * MG_PER_G:
        return bag, ()
    if bag.calling is not None or bag.degraded:
        return bag, ()
    return _call(bag, Call("skip_bagging", item.line_id, item.gtin, item.weight_mg or 0, 0, item.tolerance_mg,
                           bag.last_stable_mg or 0))


def resolved(bag: Bag, at: float) -> Bag:
    """Staff decided the open call: the bag as it is now is the baseline; the item the call was about is
    settled, and the others still waiting to be bagged are given their full time again from `at`."""
    pending = tuple(replace(e, scanned_at=at, prompted=False) for e in bag.pending if e.line_id != bag.calling_line)
    return replace(bag, calling=None, calling_line=None, baseline_mg=bag.last_stable_mg, pending=pending)


def degrade(bag: Bag) -> Bag:
    """No weight check: the scale is offline or kept moving. What was waiting goes unchecked."""
    return replace(bag, degraded=True, pending=(), calling=None, calling_line=None)


def recover(bag: Bag) -> Bag:
    """The scale is back: the next stable weight is the baseline."""
    return replace(bag, degraded=False, baseline_mg=None, last_stable_mg=None)


def new_visit(bag: Bag) -> Bag:
    """A visit ended. Until the next one's first scan nothing is judged; the bags lifted off meanwhile lower
    the baseline to the empty bag area. From that scan anything put down before scanning (beyond the own bag)
    is an unexpected item; what the last shopper left behind is the baseline, for staff to clear."""
    return Bag(baseline_mg=bag.baseline_mg, last_stable_mg=bag.last_stable_mg, degraded=bag.degraded)


def dropped(bag: Bag, line_id: str) -> Bag:
    """A line voided: its units still waiting to be bagged are not expected any more."""
    return replace(bag, pending=tuple(e for e in bag.pending if e.line_id != line_id))
