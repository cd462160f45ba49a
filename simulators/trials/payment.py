"""Payment fault trials: a visit paid through the `paypay` adapter while the service or the lane fails.

Each trial puts one item in a new visit and pays, with a scanned wallet code or the lane's QR, under one fault
chosen at random: none, a decline, a 5xx before the create, a 429, the reply dropped after the charge is
committed, 5xx on the create and the status queries after it, status queries failing after a lost reply,
the service restarting mid-payment, a shopper slow to confirm in the app, a QR paid by the app, a QR the
shopper cancels, the sale's commit failing once after the charge, or the lane stopping at a random instant
of the payment and coming back on the same files (the in-process stand-in for `kill -9`;
tests/lane/test_payment_kill9.py kills the real daemon). Afterwards the service's ledger and the lane's sales must
agree exactly (`check`).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from agent.errors import StoreError
from agent.session.rules import action_rules
from simulators.cloud.payment_service import PaymentService
from simulators.cloud.store_catalog import TEA
from simulators.fixtures.session import SessionLane

WALLET = "281234567890123456"
FAULTS = ("none", "decline", "5xx_before", "429", "drop_after_commit", "5xx_then_status", "lane_stops",
          "status_fails", "service_restarts", "slow_confirm", "qr_paid", "qr_cancelled", "qr_lane_stops",
          "sale_commit_fails")


def fail_next_sale_commit(lane: SessionLane) -> None:
    """lane.db refuses the next commit that records a sale, as SQLite does on a full disk or an I/O error."""
    db = lane.lane_db
    assert db is not None
    original = db.write

    async def write(fn: Any, *args: Any, **kwargs: Any) -> Any:
        if len(args) > 1 and getattr(args[1], "sale", None) is not None:
            db.write = original                      # type: ignore[method-assign]
            raise StoreError("database or disk is full (injected)")
        return await original(fn, *args, **kwargs)

    db.write = write                                 # type: ignore[method-assign]


@dataclass
class Report:
    trials: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    sales: int = 0
    charges: int = 0
    problems: list[str] = field(default_factory=list)


async def trial(lane: SessionLane, service: PaymentService, fault: str, rng: random.Random) -> None:
    assert lane.controller is not None
    await lane.scan(TEA)
    service.decline_codes = {WALLET} if fault == "decline" else set()
    service.fail_5xx = {"5xx_before": 1, "5xx_then_status": 2}.get(fault, 0)
    service.rate_limit = 1 if fault == "429" else 0
    service.drop_after_commit = 1 if fault in ("drop_after_commit", "status_fails", "service_restarts") else 0
    service.fail_status = rng.randint(1, 4) if fault == "status_fails" else 0
    service.confirm_s = 0.3 if fault == "slow_confirm" else 0.0
    service.app_pays_after_s = rng.uniform(0.05, 0.3) if fault in ("qr_paid", "qr_lane_stops") else None
    if fault == "sale_commit_fails":
        fail_next_sale_commit(lane)
    merchant = fault.startswith("qr_")
    paying = asyncio.create_task(lane.checkout.pay("wallet_qr") if merchant else
                                 lane.checkout.pay("wallet_code", WALLET))
    if fault in ("lane_stops", "qr_lane_stops"):
        await asyncio.sleep(rng.uniform(0, 0.03 if fault == "lane_stops" else 0.3))
        paying.cancel()
        await asyncio.gather(paying, return_exceptions=True)
        await lane.restart(keep_payments=True)          # comes back, settles what was in flight
    elif fault == "service_restarts":
        await asyncio.sleep(rng.uniform(0, 0.05))
        await service.restart(down_s=rng.uniform(0.1, 0.5))
        await paying
    elif fault == "qr_cancelled":
        await paying
        await asyncio.sleep(rng.uniform(0, 0.2))
        await lane.checkout.cancel_by_shopper()
    else:
        await paying
    await lane.settled()
    await finish_visit(lane)


async def finish_visit(lane: SessionLane) -> None:
    """A visit not paid in the end is cancelled, so the next trial starts a new one."""
    controller = lane.controller
    assert controller is not None
    if controller.session.state.value in ("scanning", "needs_attendant"):
        await controller.apply(lambda s: action_rules.cancel(s, controller.settings, controller.clock.time()))


def check(lane: SessionLane, service: PaymentService) -> list[str]:
    """Every charge the service kept has exactly one sale, every sale exactly one kept charge, no one was charged
    twice, and no payment is left open."""
    sales = Counter(sale["payment"]["payment_id"] for sale in lane.events("omo.sale/1"))
    problems = [f"{pid}: recorded {n} times" for pid, n in sales.items() if n != 1]
    for pid in service.ledger:
        if service.charged(pid) > 1:
            problems.append(f"{pid}: charged {service.charged(pid)} times")
        if service.kept(pid) and pid not in sales:
            problems.append(f"{pid}: charged with no sale ({service.ledger[pid].status})")
    problems += [f"{pid}: a sale with no charge" for pid in sales if not service.kept(pid)]
    problems += [f"{i['payment_id']}: intent left {i['state']}" for i in lane.intents()
                 if i["state"] not in ("succeeded", "failed", "cancelled")]
    return problems


async def campaign(lane: SessionLane, service: PaymentService, trials: int, seed: int) -> Report:
    rng = random.Random(seed)
    report = Report()
    order: list[str] = []
    for _ in range(trials):
        if not order:                    # every fault once per round, in a random order
            order = rng.sample(FAULTS, len(FAULTS))
        fault = order.pop()
        await trial(lane, service, fault, rng)
        report.trials += 1
        report.faults[fault] += 1
    report.sales = len(lane.events("omo.sale/1"))
    report.charges = sum(1 for pid in service.ledger if service.kept(pid))
    report.problems = check(lane, service)
    return report
