"""The pure bagging rules: each disagreement calls with its reason and weights; agreement calls nothing."""

from __future__ import annotations

from agent.bagging import rules
from agent.bagging.learned import learn
from agent.bagging.rules import Bag, Call, Expected, PlacePrompt, Sample
from agent.bagging.settings import BaggingSection

S = BaggingSection(enabled=True, skip_max_g=1000)


def _item(line: str = "L1", weight_g: int | None = 500, at: float = 0.0, tol_g: int = 25) -> Expected:
    return Expected(line, "04901234567894", None if weight_g is None else weight_g * 1000, tol_g * 1000, at)


def _scanned(bag: Bag, *items: Expected) -> Bag:
    for item in items:
        bag = rules.scanned(bag, item, S)
    return bag


def test_the_items_weight_within_tolerance_is_accepted_without_a_call() -> None:
    bag, actions = rules.weighed(_scanned(Bag(), _item()), 512_000, True, S)
    assert actions == () and bag.pending == () and bag.baseline_mg == 512_000 and bag.bagged == 1


def test_a_gain_over_the_items_weight_is_an_unexpected_item_with_the_weights() -> None:
    bag, actions = rules.weighed(_scanned(Bag(), _item()), 900_000, True, S)
    assert actions == (Call("unexpected_item", "L1", "04901234567894", 500_000, 900_000, 25_000, 900_000),)
    assert bag.calling == "unexpected_item"


def test_an_item_put_in_without_any_scan_is_an_unexpected_item() -> None:
    bag = _scanned(Bag(), _item())
    bag, _ = rules.weighed(bag, 500_000, True, S)
    bag, actions = rules.weighed(bag, 530_000, True, S)       # 30 g more, nothing scanned
    assert [a.reason for a in actions if isinstance(a, Call)] == ["unexpected_item"]
    assert actions[0] == Call("unexpected_item", None, None, 0, 30_000, 5_000, 530_000)


def test_a_weight_that_drops_is_item_removed() -> None:
    bag, _ = rules.weighed(_scanned(Bag(), _item()), 500_000, True, S)
    bag, actions = rules.weighed(bag, 0, True, S)
    assert actions == (Call("item_removed", None, None, 0, -500_000, 5_000, 0),)


def test_nothing_placed_prompts_then_calls_item_not_bagged() -> None:
    bag = _scanned(Bag(), _item(at=100.0))
    bag, _ = rules.weighed(bag, 0, True, S)
    assert rules.tick(bag, 109.0, S)[1] == ()
    bag, actions = rules.tick(bag, 110.0, S)
    assert actions == (PlacePrompt("L1"),)
    assert rules.tick(bag, 115.0, S)[1] == ()                 # prompted once, not again
    bag, actions = rules.tick(bag, 120.0, S)
    assert actions == (Call("item_not_bagged", "L1", "04901234567894", 500_000, 0, 25_000, 0),)


def test_motion_is_not_judged() -> None:
    bag, actions = rules.weighed(_scanned(Bag(), _item()), 900_000, False, S)
    assert actions == () and bag.calling is None


def test_the_own_bag_is_accepted_once_before_the_first_item_and_not_after() -> None:
    bag = _scanned(Bag(), _item())                           # the bag goes down as the first item is scanned
    bag, actions = rules.weighed(bag, 40_000, True, S)
    assert actions == () and bag.own_bag and len(bag.pending) == 1
    bag, actions = rules.weighed(bag, 541_000, True, S)
    assert actions == () and bag.bagged == 1
    bag, actions = rules.weighed(bag, 581_000, True, S)       # a second "bag"
    assert [a.reason for a in actions if isinstance(a, Call)] == ["unexpected_item"]


def test_the_empty_bag_areas_drift_is_followed_between_visits() -> None:
    bag = Bag()
    for drift in range(1_000, 60_000, 1_000):                 # a gram at a time, over the day
        bag, _ = rules.weighed(bag, drift, True, S)
    bag, actions = rules.weighed(rules.scanned(bag, _item(), S), 59_000 + 500_000, True, S)
    assert actions == () and bag.bagged == 1


def test_before_the_first_scan_the_bag_area_is_not_judged() -> None:
    bag, actions = rules.weighed(Bag(), 700_000, True, S)
    assert actions == () and bag.calling is None


def test_skip_bagging_is_allowed_up_to_skip_max_and_a_call_above_it() -> None:
    bag, actions = rules.skip(_scanned(Bag(), _item(weight_g=900)), S)
    assert actions == () and bag.pending == ()
    bag, actions = rules.skip(_scanned(Bag(), _item(weight_g=6000)), S)
    assert actions == (Call("skip_bagging", "L1", "04901234567894", 6_000_000, 0, 25_000, 0),)


def test_a_degraded_watch_calls_nothing_and_recovers_from_the_bag_as_it_is() -> None:
    bag = rules.degrade(_scanned(Bag(), _item(at=0.0)))
    assert rules.tick(bag, 60.0, S)[1] == ()
    assert rules.weighed(bag, 900_000, True, S)[1] == ()
    bag = rules.recover(bag)
    bag, _ = rules.weighed(bag, 900_000, True, S)             # the first stable weight after: the baseline
    assert bag.baseline_mg == 900_000 and rules.weighed(bag, 901_000, True, S)[1] == ()


def test_resolving_a_call_takes_the_bag_as_it_is_and_restarts_the_others_timers() -> None:
    bag, _ = rules.weighed(_scanned(Bag(), _item("L1", at=0.0), _item("L2", 300, at=1.0)), 900_000, True, S)
    assert bag.calling_line == "L1"
    bag = rules.resolved(bag, 40.0)
    assert bag.calling is None and bag.baseline_mg == 900_000
    assert [(e.line_id, e.scanned_at) for e in bag.pending] == [("L2", 40.0)]
    assert rules.tick(bag, 45.0, S)[1] == ()


def test_an_unknown_weight_accepts_the_gain_and_reports_a_sample() -> None:
    bag, actions = rules.weighed(_scanned(Bag(), _item(weight_g=None)), 333_000, True, S)
    assert actions == (Sample("04901234567894", 333_000),) and bag.pending == ()


def test_two_items_put_down_together_are_accepted() -> None:
    bag = _scanned(Bag(), _item("L1", 500), _item("L2", 300))
    bag, actions = rules.weighed(bag, 801_000, True, S)
    assert actions == () and bag.bagged == 2


def test_learned_weight_is_the_median_and_ignores_an_outlier() -> None:
    samples = [250_000, 252_000, 249_000, 251_000, 900_000]   # one weighing had a second item on it
    learned = learn("g", samples, min_samples=5, floor_mg=5_000)
    assert learned is not None and learned.weight_mg == 251_000 and learned.tolerance_mg == 5_000
    assert learn("g", samples[:4], min_samples=5, floor_mg=5_000) is None


def test_a_bag_put_down_before_the_first_scan_is_the_shoppers_own_and_not_the_item() -> None:
    bag, _ = rules.weighed(Bag(), 48_000, True, S)            # before any scan: not judged
    bag = rules.scanned(bag, _item(weight_g=50, tol_g=10), S)  # the bag weighs about what the item does
    assert bag.own_bag and bag.baseline_mg == 48_000
    bag, actions = rules.weighed(bag, 98_000, True, S)
    assert actions == () and bag.bagged == 1


def test_the_last_shoppers_bags_lifted_between_visits_leave_the_next_one_judged_from_the_empty_area() -> None:
    bag, _ = rules.weighed(_scanned(Bag(), _item()), 500_000, True, S)
    bag = rules.new_visit(bag)
    bag, actions = rules.weighed(bag, 37_000, True, S)        # the bags lifted; a drifted zero of 37 g remains
    assert actions == () and bag.baseline_mg == 37_000
    bag, actions = rules.weighed(_scanned(bag, _item()), 537_000, True, S)
    assert actions == () and bag.bagged == 1


def test_at_the_next_visit_a_gain_beyond_its_first_item_is_an_unexpected_item() -> None:
    bag, _ = rules.weighed(_scanned(Bag(), _item()), 500_000, True, S)
    bag, actions = rules.weighed(_scanned(rules.new_visit(bag), _item(weight_g=200)), 700_000, True, S)
    assert actions == ()                                      # the new item: accepted on top of what was left
    bag, actions = rules.weighed(rules.new_visit(bag), 700_000, True, S)
    bag, actions = rules.weighed(_scanned(bag, _item(weight_g=200)), 1_400_000, True, S)
    assert [a.reason for a in actions if isinstance(a, Call)] == ["unexpected_item"]


def test_a_bagging_call_survives_a_restart_with_its_weights() -> None:
    from dataclasses import replace

    from agent.bagging.calls import raise_call
    from agent.session.rules import codec
    from agent.session.rules.basket import new_session
    from agent.session.rules.machine import SessionState

    scanning = replace(new_session("V1", 1000.0, True), state=SessionState.SCANNING)
    call = Call("unexpected_item", "L1", "04901234567894", 500_000, 900_000, 25_000, 900_000)
    change = raise_call(scanning, call, max_failed_payments=3)
    assert change is not None and change.session.state is SessionState.NEEDS_ATTENDANT
    assert change.events[0][2]["weights"] == call.weights()
    restored = codec.loads(codec.dumps(change.session))
    assert restored == change.session and restored.pending[0].weights == call.weights()
    assert restored.pending[0].line_id is None and restored.pending[0].detail == "L1"   # a reject voids no line


def test_no_call_opens_a_visit_or_stops_a_payment() -> None:
    from dataclasses import replace

    from agent.bagging.calls import raise_call
    from agent.session.rules.basket import idle_session
    from agent.session.rules.machine import SessionState

    call = Call("item_removed", None, None, 0, -500_000, 5_000, 0)
    assert raise_call(idle_session(1000.0), call, max_failed_payments=3) is None
    paying = replace(idle_session(1000.0), session_id="V1", state=SessionState.PAYING)
    assert raise_call(paying, call, max_failed_payments=3) is None
