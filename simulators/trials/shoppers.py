"""Shoppers at a lane with a bagging-area scale: honest and dishonest visits, as scripts of what their hands do.

A visit is a list of timed steps (scan a code, place a mass on the bagging platter, lift one off, press
"skip bagging", pay). Honest shoppers vary as real ones do: a unit weighs within about 1 % of the catalog's
figure, most place an item within a few seconds and a few only after the prompt, some bring their own bag,
some put a unit down partly off the platter, a trolley now and then shakes the bagging area, bulky light items
are declared "skip bagging". A dishonest visit has one act, at a random point:

- `bagged_without_scan`: an item put in the bag that was never scanned;
- `swap`: a cheap item scanned and a dearer one bagged instead;
- `removed_after_scan`: an item scanned and bagged, then taken back out;
- `heavy_skip`: a bulky item scanned and declared "skip bagging" (and a second one, unscanned, left in the
  trolley beside it).

The same scripts run two ways. `run_pure` plays them in simulated time against agent/bagging/rules.py and the
platter's physics (simulators/devices/scale_physics.py), and with the one pricing engine prices each basket:
fast enough for the bench's ten thousand visits. `catalog_lines` gives the products to a real lane, whose
test plays the scripts through the pty scanner and the pty scale (tests/bagging/test_shoppers_lane.py).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from agent.bagging import rules
from agent.bagging.rules import Bag, Call, Expected
from agent.bagging.settings import MG_PER_G, BaggingSection
from agent.interpret.gtin import check_digit
from agent.session.pricing.engine import price_basket
from agent.session.pricing.engine_types import LineInput
from simulators.devices.scale_physics import ScalePhysics

BEHAVIOURS = ("bagged_without_scan", "swap", "removed_after_scan", "heavy_skip")
STAFF_S = 30.0              # an attendant's walk to the lane and look at the bag: what a call costs the shopper


@dataclass(frozen=True, slots=True)
class Product:
    code: str               # EAN-13, as the scanner reads it
    name: str
    price: int              # yen, tax included
    weight_g: int
    bulky: bool = False     # too big for a bag: an honest shopper may declare "skip bagging"

    @property
    def gtin(self) -> str:
        return "0" + self.code


def _ean13(n: int) -> str:
    body = f"45200000{n:04d}"
    return body + str(check_digit(body))


def _products() -> tuple[Product, ...]:
    light = [("Chewing gum", 120, 14), ("Mints", 150, 22), ("Onigiri", 160, 110), ("Sandwich", 320, 180),
             ("Yoghurt", 140, 120), ("Chocolate bar", 180, 50), ("Crisps", 158, 60), ("Instant noodles", 198, 95),
             ("Canned coffee", 130, 200), ("Green tea 500ml", 150, 530), ("Water 500ml", 100, 520),
             ("Milk 1l", 248, 1_060), ("Bread", 198, 340), ("Eggs x10", 268, 640), ("Bananas", 198, 620),
             ("Lipstick", 1_980, 18), ("Razor blades", 1_480, 40), ("AA batteries x4", 498, 95),
             ("Earphones", 2_980, 75), ("SD card 64GB", 2_480, 12), ("Face cream", 1_680, 85),
             ("Beef 300g", 1_280, 310), ("Sake 720ml", 1_580, 1_250), ("Wine 750ml", 1_280, 1_310),
             ("Shampoo", 698, 560), ("Detergent", 398, 980)]
    bulky = [("Toilet paper x12", 498, 1_150), ("Kitchen paper x4", 358, 640), ("Rice 5kg", 2_380, 5_020),
             ("Water 2l x6", 698, 12_600), ("Cat litter 5l", 980, 4_100)]
    return (*(Product(_ean13(i), n, p, w) for i, (n, p, w) in enumerate(light, start=1)),
            *(Product(_ean13(100 + i), n, p, w, bulky=True) for i, (n, p, w) in enumerate(bulky, start=1)))


PRODUCTS = _products()


def catalog_lines(products: Sequence[Product] = PRODUCTS) -> list[dict[str, Any]]:
    """The products as catalog lines (docs/catalog.md), with their weights, for a real lane."""
    return [{"gtin": p.gtin, "name": p.name, "price": p.price, "tax_rate": "0.08", "weight_g": p.weight_g, "version": 1}
            for p in products]


@dataclass(frozen=True, slots=True)
class Step:
    at: float                       # seconds from the visit's start
    kind: str                       # scan | place | lift | skip | pay
    product: Product | None = None
    mass_mg: int = 0                # what lands on (or leaves) the platter
    on_platter: float = 1.0
    act: bool = False               # the dishonest act itself


@dataclass(frozen=True, slots=True)
class Visit:
    behaviour: str                  # honest, or one of BEHAVIOURS
    steps: tuple[Step, ...]
    act_at: float | None = None     # when the dishonest act happened
    act_mass_g: int = 0             # the weight of the item concerned
    scanned: tuple[Product, ...] = ()   # what is paid for
    taken: tuple[Product, ...] = ()     # what leaves the store with the shopper

    def loss(self) -> int:
        """What leaves unpaid, in yen: the takings priced by the one pricing engine less the paid basket."""
        return _total(self.taken) - _total(self.scanned)


def _total(products: Sequence[Product]) -> int:
    lines = [LineInput(f"L{i}", p.gtin, p.name, 1, p.price, None, "0.08") for i, p in enumerate(products, 1)]
    return price_basket(lines, member_tier=None).total


@dataclass(frozen=True, slots=True)
class Shoppers:
    """The mix: how often a visit is dishonest, and how honest shoppers vary (each a share of visits or units)."""

    dishonest_rate: float = 0.02
    own_bag: float = 0.3
    slow: float = 0.03              # a unit placed only after the prompt
    lean: float = 0.002             # a unit put down partly off the platter
    shake: float = 0.05             # a visit whose bagging area a trolley shakes once
    spread: float = 0.01            # a unit's weight against the catalog's (standard deviation, share)
    mean_items: float = 6.0


def script(rng: random.Random, shoppers: Shoppers, behaviour: str = "honest") -> Visit:
    """One visit's steps."""
    n = min(20, 1 + int(rng.expovariate(1 / (shoppers.mean_items - 1))))
    ordinary = [p for p in PRODUCTS if not p.bulky]
    steps: list[Step] = []
    t = 0.5
    if rng.random() < shoppers.own_bag:                  # the bag goes down, then the first item is picked up
        steps.append(Step(0.0, "place", mass_mg=rng.randint(15, 60) * MG_PER_G))
        t = rng.uniform(1.0, 2.5)
    act_index = rng.randrange(n) if behaviour != "honest" else -1
    act_at, act_mass = None, 0
    scanned: list[Product] = []
    taken: list[Product] = []
    for i in range(n):
        product = rng.choice(PRODUCTS if rng.random() < 0.1 else ordinary)
        if i == act_index and behaviour == "heavy_skip":
            product = rng.choice([p for p in PRODUCTS if p.bulky])
        mass = _unit_mass(rng, product, shoppers)
        steps.append(Step(t, "scan", product))
        scanned.append(product)
        placed = t + _placing_delay(rng, shoppers)
        if i == act_index and behaviour == "heavy_skip":
            act_at, act_mass = t + 1.0, product.weight_g
            taken += [product, product]                  # the second one, unscanned, beside it in the trolley
            steps.append(Step(t + 1.0, "skip", product, act=True))
            t += 1.0 + rng.uniform(1.0, 3.0)
            continue
        if product.bulky and product.weight_g <= 1500 and not (i == act_index and behaviour == "swap"):
            steps.append(Step(t + 1.0, "skip", product))          # an honest declaration: too big for a bag
            taken.append(product)
            t += 1.0 + rng.uniform(1.0, 3.0)
            continue
        if i == act_index and behaviour == "swap":
            dearer = [p for p in ordinary if p.price > product.price and p is not product]
            if dearer:
                other = rng.choice(dearer)
                act_at, act_mass = placed, other.weight_g
                product, mass = other, _unit_mass(rng, other, shoppers)
        lean = 0.9 if rng.random() < shoppers.lean else 1.0
        steps.append(Step(placed, "place", product, mass, lean, act=i == act_index and behaviour == "swap"))
        taken.append(product)
        t = placed + rng.uniform(1.0, 3.0)
        if i == act_index and behaviour == "bagged_without_scan":
            extra = rng.choice(ordinary)
            act_at, act_mass = t, extra.weight_g
            taken.append(extra)
            steps.append(Step(t, "place", extra, _unit_mass(rng, extra, shoppers), act=True))
            t += rng.uniform(1.5, 3.0)
        if i == act_index and behaviour == "removed_after_scan":
            act_at, act_mass = t, product.weight_g        # out of the bag, into a pocket: paid all the same
            steps.append(Step(t, "lift", product, mass, act=True))
            t += rng.uniform(1.5, 3.0)
    if rng.random() < shoppers.shake:
        steps.append(Step(rng.uniform(1.0, t), "shake", mass_mg=rng.randint(10, 60) * MG_PER_G,
                          on_platter=rng.uniform(0.5, 2.0)))
    steps.append(Step(t + 2.0, "pay"))
    if behaviour == "swap" and act_at is None:          # nothing dearer to swap in: an honest visit after all
        behaviour = "honest"
    return Visit(behaviour, tuple(sorted(steps, key=lambda s: s.at)), act_at, act_mass, tuple(scanned), tuple(taken))


def _unit_mass(rng: random.Random, product: Product, shoppers: Shoppers) -> int:
    grams = rng.gauss(product.weight_g, product.weight_g * shoppers.spread)
    return max(1, round(grams * MG_PER_G))


def _placing_delay(rng: random.Random, shoppers: Shoppers) -> float:
    if rng.random() < shoppers.slow:
        return rng.uniform(10.5, 14.0)                   # after "place the item in the bag"
    return min(8.0, math.exp(rng.gauss(math.log(2.0), 0.45)))


def visits(count: int, shoppers: Shoppers, seed: int = 0) -> list[Visit]:
    """`count` visits, each dishonest with `dishonest_rate`, the behaviour drawn evenly from BEHAVIOURS."""
    rng = random.Random(seed)
    return [script(rng, shoppers, rng.choice(BEHAVIOURS) if rng.random() < shoppers.dishonest_rate else "honest")
            for _ in range(count)]


@dataclass(slots=True)
class Outcome:
    """What the lane did in one visit."""

    behaviour: str
    calls: list[tuple[float, str]] = field(default_factory=list)    # (seconds into the visit, reason)
    detected: bool = False
    act_to_call_s: float | None = None
    act_at: float | None = None     # when the act happened, in seconds into the visit (calls included)
    extra_s: float = 0.0            # what the calls cost the shopper (STAFF_S each)
    prompts: int = 0
    degraded_s: float = 0.0
    readings: int = 0


class PureLane:
    """One lane's bagging area in simulated time: the platter's physics and the watch carried from visit to
    visit, as a lane open all day carries them."""

    def __init__(self, settings: BaggingSection, physics: ScalePhysics, *, rate_hz: float = 10,
                 staff_s: float = STAFF_S) -> None:
        self.settings, self.physics, self.rate_hz, self.staff_s = settings, physics, rate_hz, staff_s
        self.bag = Bag()
        self.at = 0.0

    def play(self, visit: Visit) -> Outcome:
        """One visit, starting now; the clock moves on past it."""
        outcome, self.at, self.bag = run_pure(visit, self.settings, self.physics, self.at, self.bag,
                                              rate_hz=self.rate_hz, staff_s=self.staff_s)
        return outcome


def run_pure(visit: Visit, settings: BaggingSection, physics: ScalePhysics, start: float, bag: Bag, *,
             rate_hz: float = 10, staff_s: float = STAFF_S) -> tuple[Outcome, float, Bag]:
    """Play `visit` from `start` (the physics' clock) in simulated time, with the watch as the last visit left
    it; returns the outcome, the end time and the watch.

    Readings every 1/rate_hz s, as the driver's `live()` polls; the rules judge each as the watcher does
    (agent/bagging/watcher.py: motion longer than motion_timeout_s degrades to no weight check). A call holds
    the visit for `staff_s` (the shopper waits for staff; their later steps move on by as much), after which
    staff resolve it and the bag as it is becomes the baseline."""
    outcome = Outcome(visit.behaviour)
    bag, lines, offset = rules.new_visit(bag), 0, 0.0
    steps = list(visit.steps)
    resolve_at: float | None = None
    unsettled_since: float | None = None
    at = start
    last_step_at = steps[-1].at
    while True:
        while steps and start + steps[0].at + offset <= at:
            step = steps.pop(0)
            step_at = start + step.at + offset
            if step.act:
                outcome.act_at = step_at - start
            if step.kind == "place":
                physics.place(step.mass_mg, step_at, on_platter=step.on_platter)
            elif step.kind == "lift":
                physics.lift(step.mass_mg, step_at)
            elif step.kind == "shake":
                physics.vibrate(step_at, step.on_platter, step.mass_mg)
            elif step.kind == "scan" and step.product is not None:
                lines += 1
                weight = step.product.weight_g * MG_PER_G
                bag = rules.scanned(bag, Expected(f"L{lines}", step.product.gtin, weight,
                                                  settings.tolerance_mg(weight), step_at), settings)
            elif step.kind == "skip":
                bag, actions = rules.skip(bag, settings)
                offset = _calls(outcome, actions, step_at - start, offset, staff_s)
                resolve_at = step_at + staff_s if actions else resolve_at
        if not steps and at >= start + last_step_at + offset:
            break
        sample = physics.sample(at)
        outcome.readings += 1
        stable = not (sample.motion or sample.under_zero or sample.over_capacity or sample.needs_zeroing)
        if stable:
            unsettled_since = None
            if bag.degraded:
                bag = rules.recover(bag)
        else:
            unsettled_since = at if unsettled_since is None else unsettled_since
            if at - unsettled_since >= settings.motion_timeout_s and not bag.degraded:
                bag = rules.degrade(bag)
        if bag.degraded:
            outcome.degraded_s += 1 / rate_hz
        if resolve_at is not None and at >= resolve_at:
            bag, resolve_at = rules.resolved(bag, at), None
        bag, weighed = rules.weighed(bag, sample.weight_mg, stable, settings)
        bag, ticked = rules.tick(bag, at, settings)
        actions = (*weighed, *ticked)
        outcome.prompts += sum(1 for a in actions if isinstance(a, rules.PlacePrompt))
        if any(isinstance(a, Call) for a in actions):
            offset = _calls(outcome, actions, at - start, offset, staff_s)
            resolve_at = at + staff_s
        at += 1 / rate_hz
    for item in list(physics.items):                     # the shopper takes the bags away
        physics.lift(item.mass_mg, at)
    if physics.sample(at + 2.0).needs_zeroing:           # the morning's zero key, when the drift asks for it
        physics.zero(at + 2.0)
    return outcome, at + 3.0, bag


def _calls(outcome: Outcome, actions: tuple[rules.Action, ...], at: float, offset: float, staff_s: float) -> float:
    """Record the calls; the first one at or after the act detects it."""
    for action in actions:
        if isinstance(action, Call):
            outcome.calls.append((at, action.reason))
            outcome.extra_s += staff_s
            offset += staff_s
            if outcome.act_at is not None and not outcome.detected:
                outcome.detected, outcome.act_to_call_s = True, at - outcome.act_at
    return offset


def physics_for_lane(seed: int) -> ScalePhysics:
    """A bagging-area platter: 30 kg, a 2 g division, a little noise and drift."""
    return ScalePhysics(seed=seed, capacity_mg=30_000_000, division_mg=2_000, settle_s=0.6, noise_mg=400,
                        drift_mg_per_min=50, zero_limit_mg=200_000)


def with_skip_max(settings: BaggingSection, grams: int) -> BaggingSection:
    return replace(settings, skip_max_g=grams)


async def play_on_lane(lane: Any, scanner: Any, scale: Any, visit: Visit, *, speed: float = 1.0,
                       staff_s: float = 0.5) -> Outcome:
    """Play `visit` on a real lane (simulators/lanes/bagging.py: `lane` an agent.app.Lane, `scanner` and `scale`
    its pty simulators) in real time, `speed` seconds per script second. A call is resolved by staff (approved)
    after `staff_s`; at "pay" the lane's total is checked against the pricing engine's for what was scanned, the
    visit is cancelled (the payment is not what is measured here) and the shopper lifts the bags off."""
    import asyncio
    import time as clock

    from agent.session.rules import action_rules

    controller = lane.session
    outcome = Outcome(visit.behaviour)
    started, offset = clock.monotonic(), 0.0
    seen: set[str] = set()

    async def staff() -> float:
        """Record the open bagging calls; staff resolve them. Returns the seconds it took."""
        pending = [i for i in controller.session.pending if i.reason in rules.REASONS and i.intervention_id not in seen]
        if not pending:
            return 0.0
        for call in pending:
            seen.add(call.intervention_id)
            at = clock.monotonic() - started
            outcome.calls.append((at, call.reason))
            if outcome.act_at is not None and not outcome.detected:
                outcome.detected, outcome.act_to_call_s = True, at - outcome.act_at
        await asyncio.sleep(staff_s)
        while controller.session.pending:
            await controller.apply(lambda s: action_rules.resolve(s, approved=True, staff_id="S-SIM",
                                                                  settings=controller.settings, now=clock.time()))
        return staff_s

    for step in visit.steps:
        due = started + step.at * speed + offset
        while (left := due - clock.monotonic()) > 0:
            await asyncio.sleep(min(left, 0.05))
            offset += await staff()
        offset += await staff()
        if step.act:
            outcome.act_at = clock.monotonic() - started
        if step.kind == "scan" and step.product is not None:
            scanner.scan(step.product.code, aim="]E0")
            await asyncio.sleep(0.3)
        elif step.kind == "place":
            scale.place(step.mass_mg, on_platter=step.on_platter)
        elif step.kind == "lift":
            scale.lift(step.mass_mg)
        elif step.kind == "shake":
            scale.vibrate(step.on_platter, step.mass_mg)
        elif step.kind == "skip":
            await lane.bagging.skip()
        elif step.kind == "pay":
            await asyncio.sleep(1.0)                     # the last item settles
            offset += await staff()
            assert controller.view()["totals"]["total"] == _total(visit.scanned), "the lane's total is the engine's"
            await controller.apply(lambda s: action_rules.cancel(s, controller.settings, clock.time()))
    for item in list(scale.physics.items):
        scale.lift(item.mass_mg)
    await asyncio.sleep(1.0)                             # the bag area settles empty before the next shopper
    outcome.extra_s = staff_s * len(outcome.calls)
    return outcome
