"""The money model: a hypothesis state machine that runs a lane's real session code and holds it to a small
independent reference model (simulators/trials/money_reference.py) after every step.

Each program is a fresh lane (simulators/lanes/money.py: the real pipeline, controller, checkout and local API on
127.0.0.1, a real lane.db and catalog, a fake clock, a simulated payment service with a ledger) driven by rules a
shopper, staff and the world can do: scans of every kind, voids, member and coupon tokens, points, suspend and
resume, a catalog going stale, payments by every method with every outcome, staff voids of sales (also two at
once), and a restart on the same files. Invariants, each named (a violation's message starts with its name):

- `basket_money`: the screen's lines, totals, tax rows and amount due equal the reference model's;
- `ledger`: every sale's charged amount is its amount due and the service's kept charge; every kept charge has
  one sale; nothing is charged twice; `zero_total`: the service is never asked for 0;
- `coupon_reuse`: coupon uses on the lane never exceed `max_uses`; `points_ledger`: no member's points go below
  zero and the screen shows the balance less what the lane redeemed;
- `tax_once`: each rate's tax is one rounding of that rate's total; `rate_spelling`: one row per rate;
- `max_quantity`: no line over `[session] max_quantity`; `offline_policy`: while stale, the policy holds;
- `refusal`: a refused step changes neither the visit's money nor lane.db's rows (the scan's own record aside);
- `staff_void_once`: one reversal event per sale, however many staff ask at once.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import timedelta
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from agent.config import PointsSection, SessionSection
from simulators.cloud.store_catalog import deli_label
from simulators.cloud.tokens import TokenIssuer
from simulators.lanes.money import PAY_OUTCOMES, MoneyLane, catalog_template
from simulators.trials import money_catalog as cat
from simulators.trials.money_reference import (
    Basket,
    CouponTerms,
    Item,
    Policy,
    Totals,
    add_unit,
    merge_target,
    points_earned_options,
    price,
    release,
    remove,
    tax_of,
    weighed_amount,
)

SETTINGS = SessionSection(max_quantity=cat.MAX_QUANTITY, registration_number="T1234567890123",
                          issuer_name="Money model")
POINTS = PointsSection(basis="tax_inclusive", unit=100, tier_multipliers=cat.TIER_MULTIPLIERS)
PLAIN = (cat.TEA, cat.ONIGIRI, cat.BATTERIES, cat.MILK)
DELI_PRICES = (198, 350, 480, 1000, 2980)
SHOPPING = ("idle", "scanning", "paid", "cancelled", "abandoned")   # states where a shopper's scan is taken


def g14(code: str) -> str:
    return code if len(code) == 14 else "0" + code


@dataclass(frozen=True)
class Booking:
    """What a paid visit spends, as the model priced it when the shopper paid."""

    member: str | None
    points: int
    coupons: tuple[str, ...]
    stale: bool


@dataclass
class Tally:
    """What a campaign ran (bench/money_model.py): programs, steps, and what the steps did (sales, refusals)."""

    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def programs(self) -> int:
        return self.outcomes["programs"]

    @property
    def steps(self) -> int:
        return self.outcomes["steps"]


class Violation(AssertionError):
    """An invariant did not hold; the message starts with the invariant's name."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"{name}: {detail}")
        self.name = name


@dataclass(frozen=True, slots=True)
class Visit:
    """The model's side of the lane's current visit: its basket, which model lines each engine line holds (the
    engine names lines, the model keys them), the open interventions and whether the age check was passed."""

    basket: Basket = field(default_factory=Basket)
    ids: tuple[tuple[str, int], ...] = ()                 # (engine line ID, model line key)
    held: tuple[tuple[str, int | None], ...] = ()         # open interventions, oldest first: (reason, line key)
    age_checked: bool = False

    def keys(self, line_id: str) -> tuple[int, ...]:
        return tuple(key for lid, key in self.ids if lid == line_id)

    def mapped(self, line_id: str, key: int) -> Visit:
        return self if (line_id, key) in self.ids else replace(self, ids=(*self.ids, (line_id, key)))

    def without(self, line_id: str) -> Visit:
        """The engine's line is gone (voided): so are the model lines it held."""
        basket = self.basket
        for key in self.keys(line_id):
            basket = remove(basket, key)
        return replace(self, basket=basket, ids=tuple(pair for pair in self.ids if pair[0] != line_id))


def scratch() -> Path:
    """A fresh directory for a lane's files: in memory when the machine has /dev/shm (lane.db's fsyncs are then
    cheap, and a campaign measures the session's code rather than the disk)."""
    shm = Path("/dev/shm")
    return Path(tempfile.mkdtemp(prefix="money-", dir=shm if shm.is_dir() else None))


@dataclass(frozen=True)
class World:
    """What the programs sell from, given the defects still open (simulators/trials/money_catalog.py)."""

    open: frozenset[str]
    items: dict[str, Item]
    coupons: dict[str, CouponTerms]
    policy: Policy
    template: Path
    issuer: TokenIssuer


Edit = tuple[str, str, Any]          # (GTIN as the catalog line gives it, field, value): the lane's catalog only


@cache
def world(open_: frozenset[str], edits: tuple[Edit, ...] = ()) -> World:
    """One catalog template and one token issuer per process and set of open defects. `edits` change the lane's
    catalog and not the model's (the controls in tests/session/test_money_model.py)."""
    work = scratch()
    issuer = TokenIssuer()
    (work / "keys").mkdir()
    issuer.write_public_key(work / "keys")
    lines = [{**line, **{k: v for gtin, k, v in edits if line.get("gtin") == gtin}} for line in cat.records(open_)]
    template = catalog_template(work, lines)
    return World(open_, cat.items(open_), cat.coupons(open_), cat.policy(open_), template, issuer)


class MoneyMachine(RuleBasedStateMachine):
    """One program: a lane from a fresh copy of the catalog, and the reference model beside it."""

    tally: Tally | None = None
    open: frozenset[str] = cat.KNOWN_OPEN
    edits: tuple[Edit, ...] = ()
    settings: SessionSection = SETTINGS

    def __init__(self) -> None:
        super().__init__()
        self.world = world(self.open, self.edits)
        self.loop = asyncio.new_event_loop()
        self.work = scratch()
        self.lane = MoneyLane(self.work, self.world.template, self.world.issuer, self.settings, POINTS)
        self.issuer = self.world.issuer
        self.visit = Visit()
        self.suspended: dict[str, Visit] = {}
        self.stale = False
        self.redeemed: Counter[str] = Counter()       # points redeemed at this lane per member
        self.sale_points: dict[str, tuple[str, int]] = {}   # sale ID -> (member, points it redeemed)
        self.uses: Counter[str] = Counter()            # coupon uses at this lane (completed sales)
        self.stale_sales: set[str] = set()
        # A payment whose reply was lost settles later (the lane asks its status after a while or at restart),
        # so what the visit spends is booked when its sale appears, whichever rule that happens in.
        self.awaiting: dict[str, Booking] = {}        # session ID -> what its sale will spend
        self.booked: set[str] = set()                  # sale IDs already booked
        self.tokens: dict[str, tuple[str, float, str]] = {}   # coupon ID -> the last token: (token, signed at, holder)
        self.run(self.lane.open())
        if self.tally is not None:
            self.tally.outcomes["programs"] += 1

    def run(self, work: Any) -> Any:
        return self.loop.run_until_complete(work)

    def teardown(self) -> None:
        try:
            self.run(self.lane.close())
        finally:
            self.loop.close()
            shutil.rmtree(self.work, ignore_errors=True)

    def count(self, outcome: str) -> None:
        if self.tally is not None and outcome:
            self.tally.outcomes[outcome] += 1

    def fail(self, name: str, detail: str) -> None:
        raise Violation(name, detail)

    def check(self, name: str, ok: bool, detail: str) -> None:
        if not ok:
            self.fail(name, detail)

    # -- reading the engine ----------------------------------------------------------------------------------

    def snapshot(self) -> tuple[Any, ...]:
        """The visit's money and lane.db's rows that a refusal must leave as they are."""
        view = self.lane.view
        money = (view["session_id"], json.dumps(view["lines"], sort_keys=True),
                 json.dumps(view["totals"], sort_keys=True), json.dumps(view["member"], sort_keys=True),
                 json.dumps(view["coupons"], sort_keys=True))
        rows = tuple(self.lane.rows(f"SELECT count(*) FROM {table}")[0][0]  # noqa: S608 - fixed names
                     for table in ("sales", "coupon_redemptions", "payment_intents", "replay_cache", "sale_reversals"))
        suspended = tuple(self.lane.rows("SELECT code, resumed_at FROM suspended ORDER BY code"))
        return money, rows, suspended

    def refused_unchanged(self, before: tuple[Any, ...], what: str) -> None:
        self.count("refusal " + what.split(" (")[0][:24] + " " + what.rsplit("(", 1)[-1])
        after = self.snapshot()
        self.check("max_quantity" if "quantity_limit" in what else "refusal", before == after,
                   f"{what} was refused but changed {self._diff(before, after)}")

    @staticmethod
    def _diff(before: tuple[Any, ...], after: tuple[Any, ...]) -> str:
        names = ("session", "lines", "totals", "member", "coupons")
        money = [n for n, b, a in zip(names, before[0], after[0], strict=True) if a != b]
        return f"money {money}, rows {before[1]} -> {after[1]}, suspended {before[2] != after[2]}"

    @property
    def state(self) -> str:
        assert self.lane.lane is not None and self.lane.lane.controller is not None
        return self.lane.lane.controller.session.state.value

    def totals(self, used_up: frozenset[str] | None = None) -> Totals:
        used = frozenset(c for c, t in self.world.coupons.items()
                         if t.max_uses is not None and self.uses[c] >= t.max_uses)
        return price(self.visit.basket, coupons=self.world.coupons, bundles=cat.BUNDLES, stale=self.stale,
                     policy=self.world.policy, used_up=used if used_up is None else used_up, markdowns=cat.MARKDOWNS)

    def available_points(self, member: str) -> int:
        # docs/session.md "Points": a staff reversal of a sale gives its redeemed points back.
        returned = sum(points for sale, (holder, points) in self.sale_points.items()
                       if holder == member and sale in self._reversed())
        return cat.MEMBERS[member][1] - self.redeemed[member] + returned

    # -- scans -----------------------------------------------------------------------------------------------

    async def _scan(self, text: str, symbology: str = "ean13") -> tuple[bool, str]:
        assert self.lane.lane is not None
        change = await self.lane.lane.scan(text, symbology)
        scan = self.lane.last_scan()
        refused = change is None or not change.ok or scan.get("outcome") in ("rejected", "unknown")
        return not refused, str(scan.get("reason") or (change.refused if change is not None else "") or "")

    def scan(self, text: str, symbology: str = "ean13") -> tuple[bool, str, dict[str, Any]]:
        before_view = self.lane.view
        before = self.snapshot()
        ok, reason = self.run(self._scan(text, symbology))
        if not ok:
            self.refused_unchanged(before, f"scan of {text[:20]} ({reason})")
        elif self.lane.view["session_id"] != before_view["session_id"] and before_view["state"] != "locked":
            self.visit = Visit()
        return ok, reason, before_view

    def _new_line_ids(self, before_view: dict[str, Any]) -> tuple[str | None, str | None]:
        """The engine's line that this scan made or grew: (its ID, "new" or "grown")."""
        old = {line["line_id"]: line["quantity"] for line in before_view["lines"]} \
            if self.lane.view["session_id"] == before_view["session_id"] else {}
        for line in self.lane.view["lines"]:
            if line["line_id"] not in old:
                return line["line_id"], "new"
            if line["quantity"] != old[line["line_id"]]:
                return line["line_id"], "grown"
        return None, None

    def _added(self, before_view: dict[str, Any], item_gtin: str, *, fixed: int | None = None,
               held: str | None = None, dated: tuple[str, str] | None = None) -> None:
        """The model takes the unit the engine accepted, and maps the engine's line to it; `dated`: the label's
        expiry and the day of the scan."""
        item = self.world.items[item_gtin]
        expiry, scanned_on = dated if dated is not None else (None, None)
        basket, line = add_unit(self.visit.basket, item, fixed=fixed, held=held is not None, expiry=expiry,
                                scanned_on=scanned_on)
        visit = replace(self.visit, basket=basket)
        line_id, _how = self._new_line_ids(before_view)
        if line_id is not None:
            visit = visit.mapped(line_id, line.key)
        if held is not None:
            visit = replace(visit, held=(*visit.held, (held, line.key)))
        self.visit = visit

    def _expect_quantity_limit(self, gtin: str) -> bool:
        target = merge_target(self.visit.basket, self.world.items[gtin])
        return self.state in ("scanning",) and target is not None and target.quantity >= cat.MAX_QUANTITY

    @precondition(lambda self: self.state in SHOPPING)
    @rule(code=st.sampled_from(PLAIN))
    def scan_item(self, code: str) -> None:
        if "max_quantity" in self.open and self._expect_quantity_limit(g14(code)):
            return
        limit = self._expect_quantity_limit(g14(code))
        ok, reason, before_view = self.scan(code)
        if limit:
            self.check("max_quantity", not ok, f"unit {cat.MAX_QUANTITY + 1} of {code} was accepted")
        if ok:
            self._added(before_view, g14(code))

    @precondition(lambda self: self.state == "scanning")
    @rule(code=st.sampled_from(PLAIN), times=st.integers(2, cat.MAX_QUANTITY + 2))
    def scan_repeatedly(self, code: str, times: int) -> None:
        for _ in range(times):
            if self.state != "scanning":
                return
            self.scan_item(code)

    @precondition(lambda self: self.state in SHOPPING)
    @rule()
    def scan_restricted(self) -> None:
        needs_check = not self.visit.age_checked
        if self._expect_quantity_limit(g14(cat.BEER)) and ("max_quantity" in self.open or not needs_check):
            return
        ok, _reason, before_view = self.scan(cat.BEER)
        if ok:
            if before_view["session_id"] != self.lane.view["session_id"]:
                needs_check = True
            self._added(before_view, g14(cat.BEER), held="age_restricted" if needs_check else None)

    @precondition(lambda self: self.state in SHOPPING)
    @rule(known=st.booleans())
    def scan_refused_item(self, known: bool) -> None:
        """A sale-stopped item is refused; an unknown one calls staff and adds nothing."""
        if known:
            ok, _reason, _before = self.scan(cat.SNACK)
            self.check("refusal", not ok, "a sale-stopped item was accepted")
            return
        ok, _reason, _before = self.scan(cat.NOT_IN_CATALOG)
        if ok and self.state == "needs_attendant" and len(self.lane.view["interventions"]) > len(self.visit.held):
            self.visit = replace(self.visit, held=(*self.visit.held, ("unknown_item", None)))

    @precondition(lambda self: self.state in SHOPPING)
    @rule(tenths=st.integers(500, 9999))
    def scan_weighed(self, tenths: int) -> None:
        """A deli scale's GS1 label: net weight in kg with 4 decimals (AI 3104), priced from the exact weight."""
        if "gs1_weight" in self.open:
            tenths -= tenths % 10
        grams = Fraction(tenths, 10)
        ok, _reason, before_view = self.scan(f"01{g14(cat.BEEF)}3104{tenths:06d}", "gs1-128")  # grams/10
        if ok:
            amount = weighed_amount(self.world.items[g14(cat.BEEF)], grams)
            charged = self.lane.view["lines"][-1]["fixed_amount"]
            self.check("gs1_weight", charged == amount, f"{grams} g of beef at 398 per 100 g charged {charged}, "
                       f"not {amount} (the exact weight, rounded down once)")
            self._added(before_view, g14(cat.BEEF), fixed=amount)

    @precondition(lambda self: self.state in SHOPPING)
    @rule(amount=st.sampled_from(DELI_PRICES))
    def scan_price_label(self, amount: int) -> None:
        ok, _reason, before_view = self.scan(deli_label(amount))
        if ok:
            from simulators.cloud.store_catalog import deli_lookup_gtin
            self._added(before_view, deli_lookup_gtin(), fixed=amount)

    @precondition(lambda self: self.state in SHOPPING)
    @rule(code=st.sampled_from((cat.ONIGIRI, cat.MILK, cat.TEA)), days_left=st.integers(0, 2))
    def scan_dated(self, code: str, days_left: int) -> None:
        """A GS1 label expiring `days_left` days from today: sold, marked down on its expiry day (onigiri and
        milk), a line of its own beside units of another expiry."""
        today = self.lane.clock.now().date()
        expiry = today + timedelta(days=days_left)
        ok, _reason, before_view = self.scan(f"01{g14(code)}17{expiry.strftime('%y%m%d')}10L1", "gs1-datamatrix")
        if ok:
            self._added(before_view, g14(code), dated=(expiry.isoformat(), today.isoformat()))

    @precondition(lambda self: self.state in SHOPPING)
    @rule(code=st.sampled_from((cat.TEA, cat.MILK)))
    def scan_expired(self, code: str) -> None:
        """A GS1 label whose expiry (AI 17) is past: on the lane's trusted clock it is refused, changing nothing
        (`scan` holds a refusal to that); on an untrusted one the policy would add it as its own unit and call staff
        (tests/session/test_session_money_rules.py covers that unit)."""
        if "expired_merge" in self.open and any(line.item.gtin == g14(code) for line in self.visit.basket.lines):
            return
        past = (self.lane.clock.now() - timedelta(days=3)).strftime("%y%m%d")
        ok, reason, before_view = self.scan(f"01{g14(code)}17{past}", "gs1-128")
        self.check("expired_refused", not ok and reason == "expired",
                   f"a label three days past its expiry was {'accepted' if ok else reason} on a trusted clock")
        if ok:
            self._added(before_view, g14(code), held="expired_item")

    @precondition(lambda self: self.state in SHOPPING)
    @rule(member=st.sampled_from((cat.MEMBER, cat.MEMBER, cat.MEMBER, cat.MEMBER_NO_CONSENT)))
    def identify(self, member: str) -> None:
        if "points_ledger" in self.open and self.redeemed[member]:
            return                    # the screen would show the balance from before the lane's redemption
        ok, _reason, _before = self.scan(self.issuer.member(member, now=self.lane.clock.time()), "qr")
        if ok:
            self.visit = replace(self.visit, basket=replace(self.visit.basket, member=member))

    @precondition(lambda self: self.state == "scanning")
    @rule(name=st.sampled_from(sorted(cat.coupons(frozenset()))), own=st.sampled_from((True, True, True, False)),
          again=st.booleans())
    def present_coupon(self, name: str, own: bool, again: bool) -> None:
        """A coupon token: mostly the identified member's own (shown first when no member is), sometimes another's."""
        if self.visit.basket.member is None:
            self.identify(cat.MEMBER)
        member = self.visit.basket.member
        if member is None or self.state != "scanning":
            return
        holder = member if own and member is not None else next(m for m in sorted(cat.MEMBERS) if m != member)
        name = cat.coupon_id(name, self.open)
        terms = self.world.coupons[name]
        single = terms.max_uses == 1
        if self.stale and not single and "stale_coupons" in self.open:
            return
        if "coupon_order" in self.open and any(terms.item_level != self.world.coupons[c].item_level
                                                 for c in self.visit.basket.coupons):
            return                # an order coupon with item coupons: its minimum spend is judged after them
        if "coupon_reuse" in self.open and terms.max_uses is not None and any(
                name in kept.basket.coupons for kept in self.suspended.values()):
            return
        now = self.lane.clock.time()
        kept = self.tokens.get(name)
        # A token scanned again, while it is surely valid (the lane's clock moves while payments settle).
        if again and kept is not None and now - kept[1] < 120:
            token, holder = kept[0], kept[2]
        else:
            token = self.issuer.coupon(name, holder, now=now)
            self.tokens[name] = (token, now, holder)
        used_up = terms.max_uses is not None and self.uses[name] >= terms.max_uses
        must_refuse = (used_up or (self.stale and single and not self.world.policy.single_use_coupons)
                       or self.visit.basket.member != holder)
        ok, reason, _before = self.scan(token, "qr")
        if self.visit.basket.member is not None and self.state == "scanning" and self.visit.basket.member == holder:
            self.check("offline_policy" if self.stale else "coupon_reuse", not (ok and must_refuse),
                       f"coupon {name} accepted (uses {self.uses[name]}, stale {self.stale})")
        if (self.stale and not single and not used_up and self.visit.basket.member == holder
                and self.state == "scanning"):
            # Only the offline refusal is the policy's; a token scanned again in another visit is a replay.
            self.check("stale_coupons", ok or reason != "coupon_offline",
                       f"coupon {name} (max_uses {terms.max_uses}) refused while stale ({reason}):"
                       " the offline policy stops single-use coupons only")
        if ok and name not in self.visit.basket.coupons:
            self.visit = replace(self.visit, basket=replace(self.visit.basket,
                                                            coupons=(*self.visit.basket.coupons, name)))

    # -- the screen's and staff's actions --------------------------------------------------------------------

    def act(self, path: str, body: dict[str, Any] | None = None) -> tuple[bool, Any]:
        before = self.snapshot()
        status, answer = self.run(self.lane.call("POST", path, body))
        assert status in (200, 202, 409), (path, status, answer)
        if status == 409:
            self.refused_unchanged(before, f"POST {path} ({answer.get('reason')})")
        return status != 409, answer

    @precondition(lambda self: self.state == "scanning" and bool(self.visit.basket.lines))
    @rule(index=st.integers(0, 30))
    def void_line(self, index: int) -> None:
        lines = self.lane.view["lines"]
        line_id = lines[index % len(lines)]["line_id"]
        ok, _answer = self.act(f"/v1/session/lines/{line_id}/void")
        if ok:
            self.visit = self.visit.without(line_id)

    @precondition(lambda self: self.state == "needs_attendant")
    @rule(approve=st.sampled_from((True, True, False)), impatient=st.sampled_from((None, None, *PLAIN)))
    def staff_resolve(self, approve: bool, impatient: str | None) -> None:
        """Staff approve or reject the oldest intervention; an impatient shopper first scans an item and asks to
        pay, which changes nothing while staff are called (each is refused)."""
        if impatient is not None:
            self.scan_item(impatient)
            self.pay("simulated", "approve", 0)
        if self.state != "needs_attendant":
            return
        staff = self.issuer.staff("S-0001", now=self.lane.clock.time())
        ok, _answer = self.act("/v1/attendant/approve" if approve else "/v1/attendant/reject", {"token": staff})
        if not ok or not self.visit.held:
            return
        (reason, key), rest = self.visit.held[0], self.visit.held[1:]
        checked = self.visit.age_checked or (reason == "age_restricted" and approve)
        self.visit = replace(self.visit, held=rest, age_checked=checked)
        if key is None:
            return
        line = next(line for line in self.visit.basket.lines if line.key == key)
        self.visit = replace(self.visit, basket=release(self.visit.basket, key) if approve else
                             remove(self.visit.basket, key))
        if not approve:
            units = sum(v["quantity"] for v in self.lane.view["lines"] if v["gtin"] == line.item.gtin)
            model = sum(m.quantity for m in self.visit.basket.lines if m.item.gtin == line.item.gtin)
            self.check("expired_merge", units == model, f"staff rejected one {reason} unit of {line.item.gtin}; "
                       f"{units} are left, not {model}")

    @precondition(lambda self: self.state == "scanning")
    @rule(points=st.sampled_from((0, 1, 50, 100, 500, 1199, 1200, 1201, 5000)))
    def redeem_points(self, points: int) -> None:
        """Pay part of the basket with points (the shopper shows the member code first when none is shown)."""
        if self.visit.basket.member is None:
            self.identify(cat.MEMBER)
        member = self.visit.basket.member
        if member is None or self.state != "scanning":
            return
        if "points_ledger" in self.open and member is not None and self.redeemed[member]:
            return
        if "zero_total" in self.open and points >= self.totals().total:
            points = max(0, self.totals().total - 1)
        ok, _answer = self.act("/v1/session/points", {"points": points})
        must_refuse = (member is None or points > self.available_points(member)
                       or (self.stale and not self.world.policy.points_redemption))
        self.check("offline_policy" if self.stale and member is not None else "points_ledger",
                   not (ok and must_refuse), f"{points} points accepted for {member} "
                   f"(available {None if member is None else self.available_points(member)}, stale {self.stale})")
        if ok:
            self.visit = replace(self.visit, basket=replace(self.visit.basket, points=points))

    @precondition(lambda self: self.state == "scanning")
    @rule()
    def suspend(self) -> None:
        ok, answer = self.act("/v1/session/suspend")
        if ok and answer.get("suspend_code"):
            self.suspended[answer["suspend_code"]] = self.visit
            self.visit = Visit()

    @precondition(lambda self: bool(self.suspended) and self.state != "paying")
    @rule(index=st.integers(0, 10))
    def resume(self, index: int) -> None:
        code = list(self.suspended)[index % len(self.suspended)]      # in suspension order: codes are random
        kept = self.suspended[code]
        if "coupon_reuse" in self.open and any(self.world.coupons[c].max_uses is not None and self.uses[c] for c in
                                          kept.basket.coupons):
            return
        if "points_ledger" in self.open and self.redeemed[kept.basket.member or ""]:
            return
        ok, _reason, _before = self.scan(code, "code128")
        if ok:
            self.visit = kept
            del self.suspended[code]

    @precondition(lambda self: self.state in ("scanning", "needs_attendant"))
    @rule()
    def cancel(self) -> None:
        self.act("/v1/session/cancel")        # the ended visit keeps its lines until the next one starts

    @precondition(lambda self: not self.stale and bool(self.lane.sales()))
    @rule()
    def catalog_goes_stale(self) -> None:
        """The cloud has not confirmed the catalog for longer than `max_age_s`: the offline policy applies."""
        self.lane.clock.advance(cat.STALE_AFTER_S + 1)
        self.stale = True

    # -- payment ---------------------------------------------------------------------------------------------

    @precondition(lambda self: self.state == "scanning" and bool(self.visit.basket.lines))
    @rule(method=st.sampled_from(("simulated", "wallet_code", "wallet_qr")),
          outcome=st.sampled_from(("approve", "approve", *PAY_OUTCOMES)),
          digits=st.integers(10**15, 10**16 - 1))
    def pay(self, method: str, outcome: str, digits: int) -> None:
        """Pay by `method`; the payment service answers `outcome` (simulators/lanes/money.py)."""
        expected = self.totals()
        if "zero_total" in self.open and expected.amount_due == 0:
            return
        over_cap = self.stale and expected.total > self.world.policy.max_sale_total
        sales_before = len(self.lane.sales())
        session_id = self.lane.view["session_id"]
        self.lane.service.will(outcome)
        self.awaiting[session_id] = Booking(self.visit.basket.member, expected.points_redeemed,
                                            tuple(expected.coupon_values), self.stale)
        before = self.snapshot()
        if method == "wallet_code":
            ok, _reason, _view = self.scan(f"28{digits}", "qr")
        else:
            status, answer = self.run(self.lane.call("POST", "/v1/session/pay", {"method": method}))
            assert status in (200, 409), (status, answer)
            ok = status == 200
            if not ok:
                self.refused_unchanged(before, f"pay {method} ({answer.get('reason')})")
        self.run(self.lane.settle())
        self.book_sales()
        sales = self.lane.sales()[sales_before:]
        if over_cap:
            self.check("offline_policy", not sales, f"a sale of {expected.total} was charged while stale "
                       f"(cap {self.world.policy.max_sale_total})")
        if not sales:
            return
        self.check("ledger", len(sales) == 1 and sales[0]["session_id"] == session_id,
                   f"one payment made {len(sales)} sales")
        sale = sales[0]
        self.check("basket_money", (sale["total"], sale["amount_due"]) == (expected.total, expected.amount_due),
                   f"sale charged total {sale['total']} due {sale['amount_due']}, the model says "
                   f"{expected.total} due {expected.amount_due}")
        self.count("sale")
        self.count("sale_with_points" if expected.points_redeemed else "")
        self.count("sale_with_coupon" if expected.coupon_values else "")
        self.count("sale_while_stale" if self.stale else "")

    @precondition(lambda self: self.state == "scanning" and bool(self.visit.basket.lines))
    @rule()
    def pay_and_go(self) -> None:
        """The common case, drawn as often as all the others together: the simulated payment, approved."""
        self.pay("simulated", "approve", 0)

    @precondition(lambda self: bool(self.lane.sales()))
    @rule(index=st.integers(0, 30), together=st.booleans())
    def staff_void_sale(self, index: int, together: bool) -> None:
        """Staff void a recorded sale, once or twice at the same moment; the payment is given back once."""
        if together and "staff_void_once" in self.open:
            together = False
        sales = self.lane.sales()
        sale_id = sales[index % len(sales)]["sale_id"]
        staff = [self.issuer.staff(f"S-000{n}", now=self.lane.clock.time(), role="supervisor") for n in (1, 2)]
        calls = [self.lane.call("POST", f"/v1/sales/{sale_id}/void", {"token": t, "reason": "model"})
                 for t in staff[: 2 if together else 1]]

        async def both() -> list[tuple[int, Any]]:
            return list(await asyncio.gather(*calls))

        for status, answer in self.run(both()):
            assert status in (200, 202), (status, answer)

    @rule()
    def restart(self) -> None:
        """Close everything and open it again on the same files: the visit comes back as it was."""
        self.run(self.lane.restart())

    # -- invariants ------------------------------------------------------------------------------------------

    def book_sales(self) -> None:
        """Book every sale not booked yet with what its visit spent when it was paid: points and coupon uses."""
        for sale in self.lane.sales():
            if sale["sale_id"] in self.booked:
                continue
            self.booked.add(sale["sale_id"])
            booking = self.awaiting.pop(sale["session_id"], None)
            self.check("ledger", booking is not None, f"sale {sale['sale_id']} of a visit the model never paid")
            assert booking is not None
            for coupon in booking.coupons:
                self.uses[coupon] += 1
            if booking.member is not None:
                self.redeemed[booking.member] += booking.points
                self.sale_points[sale["sale_id"]] = (booking.member, booking.points)
            if booking.stale:
                self.stale_sales.add(sale["sale_id"])

    @invariant()
    def money_holds(self) -> None:
        if self.tally is not None:
            self.tally.outcomes["steps"] += 1
        self.book_sales()
        view = self.lane.view
        self._lines_bounded(view)
        self._basket_matches(view)
        self._ledger_balances()
        self._coupons_and_points(view)
        self._receipts_hold()

    def _basket_matches(self, view: dict[str, Any]) -> None:
        if view["state"] in ("paid", "cancelled", "abandoned", "paying", "locked"):
            return
        expected = self.totals()
        engine: Counter[tuple[str, int | None]] = Counter()
        gross: Counter[tuple[str, int | None]] = Counter()
        for line in view["lines"]:
            engine[(line["gtin"], line["fixed_amount"])] += line["quantity"]
            gross[(line["gtin"], line["fixed_amount"])] += line["gross"]
        model: Counter[tuple[str, int | None]] = Counter()
        model_gross: Counter[tuple[str, int | None]] = Counter()
        for ml in self.visit.basket.lines:
            model[(ml.item.gtin, ml.fixed)] += ml.quantity
            model_gross[(ml.item.gtin, ml.fixed)] += ml.gross
        self.check("basket_money", engine == model and gross == model_gross,
                   f"lines {dict(engine)} gross {dict(gross)}; the model has {dict(model)} gross {dict(model_gross)}")
        totals = view["totals"]
        got = (totals["subtotal"], totals["total"], totals["points_redeemed"], totals["amount_due"])
        want = (expected.subtotal, expected.total, expected.points_redeemed, expected.amount_due)
        if got != want:
            self._name_the_difference(view)
        self.check("basket_money", got == want, f"(subtotal, total, points, due) {got}; the model says {want}")
        rows: dict[Fraction, tuple[int, int]] = {}
        for row in totals["rates"]:
            rate = Fraction(row["rate"])
            self.check("rate_spelling", rate not in rows, f"rate {row['rate']} has two rows: {totals['rates']}")
            rows[rate] = (row["total"], row["tax"])
        if expected.rates_exact:
            model_rows = {r.rate: (r.total, r.tax) for r in expected.rates if r.total or r.rate in rows}
            self.check("basket_money", {k: v for k, v in rows.items() if v[0] or k in model_rows} == model_rows,
                       f"rates {rows}; the model says {model_rows}")

    def _name_the_difference(self, view: dict[str, Any]) -> None:
        """The screen's total differs from the model's: say which known rule it broke, when one explains it."""
        used = {c for c, t in self.world.coupons.items() if t.max_uses is not None and self.uses[c] >= t.max_uses}
        applied = {c["coupon_id"] for c in view["coupons"] if c["applied"]}
        self.check("coupon_reuse", not applied & used, f"coupons {sorted(applied & used)} applied again after "
                   f"their last use on this lane ({dict(self.uses)})")
        if self.stale:
            cuts = {d["kind"]: d["amount"] for d in view["discounts"] if d["kind"] in ("member_price", "coupon")}
            self.check("offline_policy", self.world.policy.member_prices or not cuts.get("member_price"),
                       f"member prices took {cuts.get('member_price')} off while stale")
            over = [d["amount"] for d in view["discounts"]
                    if d["kind"] == "coupon" and d["amount"] > self.world.policy.max_coupon_value]
            self.check("offline_policy", not over, f"coupons took {over} off while stale "
                       f"(cap {self.world.policy.max_coupon_value})")
        for by_id, after in ((True, False), (False, True), (True, True)):
            other = price(self.visit.basket, coupons=self.world.coupons, bundles=cat.BUNDLES, stale=self.stale,
                          policy=self.world.policy, by_id=by_id, spend_after_coupons=after, markdowns=cat.MARKDOWNS)
            self.check("coupon_order", view["totals"]["total"] != other.total or other.total == self.totals().total,
                       f"the total {other.total} is the coupons {list(self.visit.basket.coupons)} applied "
                       f"{'in their IDs order' if by_id else 'item coupons first'}"
                       f"{', minimum spends judged after earlier coupons' if after else ''}; the documented order "
                       f"(item coupons first, minimum spend before any coupon) gives {self.totals().total}")

    def _lines_bounded(self, view: dict[str, Any]) -> None:
        over = [line for line in view["lines"] if line["quantity"] > cat.MAX_QUANTITY]
        self.check("max_quantity", not over, f"lines over {cat.MAX_QUANTITY}: {over}")

    def _ledger_balances(self) -> None:
        service = self.lane.service
        zero = [r for r in service.requests if r.amount <= 0]
        self.check("zero_total", not zero, f"the payment service was asked for {zero[0].amount}" if zero else "")
        twice = {pid: n for pid, n in service.charges().items() if n > 1}
        self.check("ledger", not twice, f"charged more than once: {twice}")
        kept = service.kept()
        sales = self.lane.sales()
        reversed_ = self._reversed()
        by_payment = Counter(s["payment"]["payment_id"] for s in sales)
        for sale in sales:
            pid, amount = sale["payment"]["payment_id"], sale["payment"]["amount"]
            self.check("ledger", amount == sale["amount_due"] == sale["total"] - sale["points_redeemed"],
                       f"sale {sale['sale_id']}: paid {amount}, due {sale['amount_due']}, total {sale['total']}, "
                       f"points {sale['points_redeemed']}")
            if amount and sale["sale_id"] not in reversed_:
                self.check("ledger", kept.get(pid) == amount,
                           f"sale {sale['sale_id']} of {amount} but the service keeps {kept.get(pid)}")
        for pid, amount in kept.items():
            self.check("ledger", by_payment[pid] == 1, f"the service keeps {amount} for {pid} with "
                       f"{by_payment[pid]} sales")

    def _reversed(self) -> set[str]:
        assert self.lane.lane is not None
        done = Counter(e["sale_id"] for e in self.lane.lane.events("omo.payment/1")
                       if e["state"] in ("voided", "refunded"))
        twice = {sale: n for sale, n in done.items() if n > 1}
        self.check("staff_void_once", not twice, f"a sale reversed more than once: {twice}")
        return set(done)

    def _coupons_and_points(self, view: dict[str, Any]) -> None:
        uses = dict(self.lane.rows("SELECT coupon_id, count(*) FROM coupon_redemptions GROUP BY coupon_id"))
        limits = {c: t.max_uses for c, t in self.world.coupons.items() if t.max_uses is not None}
        over = {c: n for c, n in uses.items() if c in limits and n > limits[c]}
        self.check("coupon_reuse", not over, f"coupons used past max_uses: {over}")
        spent: Counter[str] = Counter()
        reversed_ = self._reversed()          # a reversed sale gave its points back (docs/session.md "Points")
        for sale in self.lane.sales():
            if sale["member_id"] is not None and sale["sale_id"] not in reversed_:
                spent[sale["member_id"]] += sale["points_redeemed"]
        negative = {m: cat.MEMBERS[m][1] - n for m, n in spent.items() if n > cat.MEMBERS[m][1]}
        self.check("points_ledger", not negative, f"members' points below zero: {negative}")
        member = view["member"]
        if member is not None and view["state"] in ("scanning", "needs_attendant") and member["member_id"] in spent:
            self.check("points_ledger", member["points_balance"] == self.available_points(member["member_id"]),
                       f"the screen shows {member['points_balance']} points; "
                       f"{self.available_points(member['member_id'])} are left")

    def _receipts_hold(self) -> None:
        for sale in self.lane.sales():
            seen: set[Fraction] = set()
            for row in sale["tax_breakdown"]:
                rate = Fraction(row["rate"])
                self.check("rate_spelling", rate not in seen, f"sale {sale['sale_id']} has two rows for {rate}")
                seen.add(rate)
                self.check("tax_once", row["tax"] == tax_of(row["total"], rate),
                           f"sale {sale['sale_id']}: tax {row['tax']} on {row['total']} at {row['rate']}")
            over = [line for line in sale["lines"] if line["quantity"] > cat.MAX_QUANTITY]
            self.check("max_quantity", not over, f"sale {sale['sale_id']} sold {over}")
            tier = cat.MEMBERS[sale["member_id"]][0] if sale["member_id"] else None
            if tier is not None:
                options = points_earned_options(sale["amount_due"], 100, 1,
                                                Fraction(cat.TIER_MULTIPLIERS.get(tier, "1")))
                self.check("points_earned", sale["points"] in options,
                           f"sale {sale['sale_id']} earned {sale['points']}, not one of {options}")
            if sale["sale_id"] in self.stale_sales:
                self._offline_sale(sale)

    def _offline_sale(self, sale: dict[str, Any]) -> None:
        member_cut = sum(d["amount"] for d in sale["discounts"] if d["kind"] == "member_price")
        coupon_cuts = [d["amount"] for d in sale["discounts"] if d["kind"] == "coupon"]
        self.check("offline_policy", sale["total"] <= self.world.policy.max_sale_total,
                   f"sale {sale['sale_id']} of {sale['total']} while stale")
        self.check("offline_policy", self.world.policy.member_prices or not member_cut,
                   f"sale {sale['sale_id']}: member prices took {member_cut} off while stale")
        self.check("offline_policy", all(c <= self.world.policy.max_coupon_value for c in coupon_cuts),
                   f"sale {sale['sale_id']}: coupons took {coupon_cuts} off while stale")


def machine(tally: Tally | None = None, open_: frozenset[str] = cat.KNOWN_OPEN, *, edits: tuple[Edit, ...] = (),
            max_quantity: int | None = None) -> type[MoneyMachine]:
    """The machine class, counting into `tally` when given (hypothesis makes one instance per program), with the
    inputs that show the defects in `open_` left out. `edits` and `max_quantity` make the lane differ from the
    model on purpose (the controls)."""
    lane_settings = SETTINGS if max_quantity is None else replace(SETTINGS, max_quantity=max_quantity)
    return type("MoneyMachine", (MoneyMachine,), {"tally": tally, "open": open_, "edits": edits,
                                                   "settings": lane_settings})
