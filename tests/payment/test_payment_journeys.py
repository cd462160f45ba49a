"""Paying at the lane, journey by journey, through the real `paypay` adapter and the payment-service simulator.

Each test reads the service's ledger (what the shopper was really charged), lane.db's intents and the outbox,
so "charged once, recorded once, released when nothing was kept" is checked where it matters.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from agent.payment.none import build as build_none
from agent.payment.reversal import cancel_deadline, reversal_kind
from agent.payment.settings import PaymentSection
from agent.session.refunds import reverse_sale
from agent.session.rules import action_rules
from agent.sync.disk import DiskGuard
from simulators.cloud.payment_service import PaymentService
from simulators.cloud.store_catalog import TEA
from simulators.doubles.waiting import wait_until
from simulators.fixtures.secrets import sweep_secrets
from simulators.fixtures.session import SessionLane
from simulators.trials.payment import fail_next_sale_commit

WALLET = "281234567890123456"
OTHER_WALLET = "289999999999999999"
Lane = tuple[SessionLane, PaymentService]


@pytest.fixture(autouse=True)
def no_secret_is_written_down(request: pytest.FixtureRequest) -> None:
    """Every journey here ends with the card-data sweep: lane.db, its WAL, the log, the outbox, the screen."""
    sweep_secrets(request, {"wallet code": WALLET, "another wallet code": OTHER_WALLET})


def payment_events(lane: SessionLane) -> list[dict[str, object]]:
    return lane.events("omo.payment/1")


async def test_a_scanned_wallet_code_is_charged_once_and_its_intent_holds_the_sale(paypay_lane: Lane) -> None:
    lane, service = paypay_lane
    await lane.scan(TEA)
    await lane.scan(WALLET, symbology="qr")
    await lane.settled()
    assert lane.view["state"] == "paid"
    [intent] = lane.intents()
    [sale] = lane.events("omo.sale/1")
    assert (intent["state"], intent["sale_id"], intent["merchant_presented"]) == ("succeeded", sale["sale_id"], 0)
    assert service.charged(intent["payment_id"]) == 1 and service.kept(intent["payment_id"])
    [event] = payment_events(lane)
    assert (event["state"], event["presented_by"], event["amount"]) == ("succeeded", "customer", 150)


async def test_the_lanes_qr_is_shown_then_paid_by_the_app_and_recorded_once(paypay_lane: Lane) -> None:
    lane, service = paypay_lane
    assert lane.controller is not None
    await lane.scan(TEA)
    await lane.checkout.pay("wallet_qr")
    shown = lane.view["payment"]
    assert lane.view["state"] == "paying" and shown["status"] == "waiting"
    assert shown["qr_payload"].startswith("https://") and shown["expires_at"] > time.time() + 200
    assert lane.view["prompts"][0]["code"] == "pay_by_qr"
    [intent] = lane.intents()
    assert service.shopper_pays(intent["code_id"]) == "COMPLETED"
    await lane.settled()
    assert lane.view["state"] == "paid"
    assert service.charged(intent["payment_id"]) == 1 and len(lane.events("omo.sale/1")) == 1
    assert ("GET", f"/v2/codes/payments/{intent['payment_id']}") in service.requests
    assert payment_events(lane)[0]["presented_by"] == "merchant"


async def test_an_expired_qr_is_withdrawn_and_the_basket_released_with_nothing_charged(paypay_lane: Lane) -> None:
    lane, service = paypay_lane
    assert lane.controller is not None
    await lane.with_payment(qr_expiry_s=1)
    await lane.scan(TEA)
    await lane.checkout.pay("wallet_qr")
    await lane.settled()
    [intent] = lane.intents()
    assert lane.view["state"] == "scanning" and lane.view["prompts"][0]["code"] == "payment_expired"
    assert len(lane.view["lines"]) == 1, "the basket is kept"
    assert (intent["state"], intent["reversal"]) == ("cancelled", "expired")
    assert service.charged(intent["payment_id"]) == 0 and lane.events("omo.sale/1") == []
    assert service.shopper_pays(intent["code_id"]) in ("EXPIRED", "CANCELED"), "the code can no longer be paid"


async def test_a_qr_paid_at_the_last_moment_is_a_sale_not_a_loss(paypay_lane: Lane) -> None:
    lane, service = paypay_lane
    assert lane.controller is not None
    await lane.with_payment(poll_interval_s=30)          # no poll before the expiry: only the final status query
    await lane.with_payment(qr_expiry_s=1)
    await lane.scan(TEA)
    await lane.checkout.pay("wallet_qr")
    [intent] = lane.intents()
    await asyncio.sleep(0.5)                         # the behaviour: the shopper pays half a second before the expiry
    service.shopper_pays(intent["code_id"])
    lane.checkout.notified("not-this-one")   # an unknown payment's notification changes nothing
    await lane.settled()
    assert lane.view["state"] == "paid" and service.kept(intent["payment_id"])
    assert len(lane.events("omo.sale/1")) == 1


async def test_a_shopper_who_cancels_while_confirming_in_the_app_is_not_charged(paypay_lane: Lane) -> None:
    lane, service = paypay_lane
    assert lane.controller is not None
    service.confirm_s = 60                          # the shopper never finishes confirming
    await lane.scan(TEA)
    await lane.scan(WALLET, symbology="qr")
    await wait_until(lambda: lane.view["payment"] and lane.view["payment"]["status"] == "waiting", 10)
    assert lane.view["prompts"][0]["code"] == "confirm_in_app"
    await lane.checkout.cancel_by_shopper()
    await lane.settled()
    [intent] = lane.intents()
    assert lane.view["state"] == "scanning" and intent["state"] == "cancelled"
    assert intent["reversal"] == "cancelled_by_shopper"
    assert service.ledger[intent["payment_id"]].status == "CANCELED" and not service.kept(intent["payment_id"])
    assert lane.events("omo.sale/1") == []


async def test_a_shopper_cancels_a_shown_qr_and_pays_by_wallet_code_instead(paypay_lane: Lane) -> None:
    lane, service = paypay_lane
    assert lane.controller is not None
    await lane.scan(TEA)
    await lane.checkout.pay("wallet_qr")
    await lane.checkout.cancel_by_shopper()
    assert lane.view["state"] == "scanning" and lane.view["prompts"][0]["code"] == "payment_cancelled_by_shopper"
    assert ("DELETE", f"/v2/codes/{lane.intents()[0]['code_id']}") in service.requests, "the QR was withdrawn"
    await lane.scan(WALLET, symbology="qr")
    await lane.settled()
    assert lane.view["state"] == "paid"
    qr, code = lane.intents()
    assert (qr["state"], code["state"]) == ("cancelled", "succeeded")
    assert service.charged(qr["payment_id"]) == 0 and service.charged(code["payment_id"]) == 1


async def test_cancel_is_refused_while_a_wallet_code_is_being_charged(paypay_lane: Lane) -> None:
    lane, service = paypay_lane
    assert lane.controller is not None
    service.latency_s = 0.3
    await lane.scan(TEA)
    paying = asyncio.create_task(lane.checkout.pay("wallet_code", WALLET))
    await wait_until(lambda: lane.view["state"] == "paying", 10)
    refused = await lane.checkout.cancel_by_shopper()
    assert refused.refused == "payment_in_progress"
    await paying
    assert lane.view["state"] == "paid"


async def test_a_decline_shows_its_reason_then_another_wallet_pays(paypay_lane: Lane) -> None:
    lane, service = paypay_lane
    service.decline_codes = {WALLET}
    await lane.scan(TEA)
    await lane.scan(WALLET, symbology="qr")
    await lane.settled()
    assert lane.view["state"] == "scanning" and "declined" in lane.view["prompts"][0]["message"]
    await lane.scan(OTHER_WALLET, symbology="qr")
    await lane.settled()
    assert lane.view["state"] == "paid"
    declined, paid = lane.intents()
    assert (declined["state"], paid["state"]) == ("failed", "succeeded")
    assert [e["state"] for e in payment_events(lane)] == ["failed", "succeeded"]
    assert service.charged(declined["payment_id"]) == 0 and service.charged(paid["payment_id"]) == 1


async def test_offline_a_wallet_is_refused_with_the_basket_kept_and_it_can_be_suspended(paypay_lane: Lane) -> None:
    lane, service = paypay_lane
    assert lane.controller is not None
    lane.offline_kinds = ("card", "cash")
    await lane.scan(TEA)
    refused = await lane.checkout.pay("wallet_qr")
    assert refused.refused == "payment_offline" and "offline" in lane.view["prompts"][0]["message"]
    assert lane.view["state"] == "scanning" and len(lane.view["lines"]) == 1
    assert lane.intents() == [] and service.requests == [], "nothing was sent"
    controller = lane.controller
    await controller.apply(lambda s: action_rules.suspend(s, controller.settings, controller.clock.time()))
    assert lane.view["suspend_code"], "the shopper takes the basket to a staffed register"


async def test_a_payment_still_unknown_is_cancelled_and_recorded_as_a_reversal(paypay_lane: Lane) -> None:
    lane, service = paypay_lane
    await lane.with_payment(unknown_timeout_s=1)
    service.drop_after_commit = 1                   # charged, reply lost
    service.fail_status = 3                         # and no status query is answered before the time is up
    await lane.scan(TEA)
    await lane.scan(WALLET, symbology="qr")
    await lane.settled()
    [intent] = lane.intents()
    assert (intent["state"], intent["reversal"]) == ("cancelled", "unknown")
    assert service.charged(intent["payment_id"]) == 1 and not service.kept(intent["payment_id"]), "voided"
    assert lane.view["state"] == "scanning" and lane.view["prompts"][0]["code"] == "payment_unknown"
    assert lane.events("omo.sale/1") == []
    assert [e["reversal"] for e in payment_events(lane)] == ["unknown"]


async def test_a_request_that_never_reached_the_service_is_cancelled_so_it_cannot_charge_later(
        paypay_lane: Lane) -> None:
    lane, service = paypay_lane
    service.fail_5xx = 1                            # the create fails before any work
    await lane.scan(TEA)
    await lane.scan(WALLET, symbology="qr")
    await lane.settled()
    [intent] = lane.intents()
    assert (intent["state"], intent["reversal"]) == ("cancelled", "not_found")
    assert ("DELETE", f"/v2/payments/{intent['payment_id']}") in service.requests
    assert service.ledger[intent["payment_id"]].status == "CANCELED", "a late create with this ID is refused"


async def test_duplicate_notifications_wake_the_lane_and_still_record_one_sale(paypay_lane: Lane) -> None:
    lane, service = paypay_lane
    assert lane.controller is not None
    await lane.with_payment(poll_interval_s=30)           # only the notification can make it quick
    checkout = lane.checkout
    service.on_notify = lambda payment_id, status: checkout.notified(payment_id) and None
    service.duplicate_notifications = 3
    service.app_pays_after_s = 0.1
    await lane.scan(TEA)
    started = time.monotonic()
    await lane.checkout.pay("wallet_qr")
    await lane.settled()
    assert lane.view["state"] == "paid" and time.monotonic() - started < 5
    assert len(lane.events("omo.sale/1")) == 1 and len(payment_events(lane)) == 1


async def test_a_qr_left_on_screen_by_a_restart_is_followed_again_and_paid(paypay_lane: Lane) -> None:
    lane, service = paypay_lane
    assert lane.controller is not None
    await lane.scan(TEA)
    await lane.checkout.pay("wallet_qr")
    [intent] = lane.intents()
    await lane.restart(keep_payments=True, settle=False)
    assert lane.view["state"] == "paying" and lane.view["prompts"][0]["code"] == "checking_payment"
    service.shopper_pays(intent["code_id"])
    await lane.settled()
    assert lane.view["state"] == "paid" and len(lane.events("omo.sale/1")) == 1


async def test_recovery_records_the_sale_of_a_charge_whose_reply_was_lost_before_a_restart(
        paypay_lane: Lane) -> None:
    lane, service = paypay_lane
    assert lane.controller is not None
    service.latency_s = 0.5                          # the service charges half a second after the request
    await lane.scan(TEA)
    paying = asyncio.create_task(lane.checkout.pay("wallet_code", WALLET))
    await wait_until(lambda: ("POST", "/v2/payments") in service.requests, 10)
    paying.cancel()                                  # the lane dies while the service is charging
    await asyncio.gather(paying, return_exceptions=True)
    await wait_until(lambda: len(service.ledger) == 1, 10)
    assert lane.intents()[0]["state"] == "requested"
    service.latency_s = 0
    await lane.restart(keep_payments=True)
    [intent] = lane.intents()
    assert intent["state"] == "succeeded" and lane.view["state"] == "paid"
    assert service.charged(intent["payment_id"]) == 1 and len(lane.events("omo.sale/1")) == 1


async def test_staff_void_a_sale_once_however_often_they_ask(paypay_lane: Lane) -> None:
    lane, service = paypay_lane
    assert lane.controller is not None
    await lane.scan(TEA)
    await lane.scan(WALLET, symbology="qr")
    await lane.settled()
    sale_id = lane.view["sale_id"]
    first = await reverse_sale(lane.controller, sale_id, "S-1", "damaged item")
    again = await reverse_sale(lane.controller, sale_id, "S-1", "damaged item")
    assert (first.kind, first.state, again.state) == ("cancel", "done", "done")
    [intent] = lane.intents()
    assert service.ledger[intent["payment_id"]].status == "CANCELED"
    voided = [e for e in payment_events(lane) if e["state"] == "voided"]
    assert len(voided) == 1 and voided[0]["sale_id"] == sale_id and voided[0]["staff_id"] == "S-1"
    assert voided[0]["refund_id"] == first.refund_id


def test_the_cancel_window_closes_at_00_14_59_the_next_day_in_japan() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    paid = datetime(2026, 12, 3, 23, 50, tzinfo=tokyo).timestamp()
    assert datetime.fromtimestamp(cancel_deadline(paid), tokyo).strftime("%d %H:%M:%S") == "04 00:14:59"
    assert reversal_kind(paid, datetime(2026, 12, 4, 0, 14, 59, tzinfo=tokyo).timestamp()) == "cancel"
    assert reversal_kind(paid, datetime(2026, 12, 4, 0, 15, 0, tzinfo=tokyo).timestamp()) == "refund"
    early = datetime(2026, 12, 3, 0, 5, tzinfo=tokyo).timestamp()
    assert reversal_kind(early, datetime(2026, 12, 3, 23, 0, tzinfo=tokyo).timestamp()) == "cancel"


async def test_a_nearly_full_disk_refuses_payment_before_any_money_moves(paypay_lane: Lane) -> None:
    lane, service = paypay_lane
    assert lane.controller is not None and lane.checkout is not None and lane.lane_db is not None
    guard = DiskGuard(lane.state_dir, stop_sales_free_mb=10**9)   # more than any disk has
    lane.controller.guard = lane.checkout.guard = guard
    await lane.scan(TEA)
    refused = await lane.checkout.pay("wallet_qr")
    assert refused.refused == "disk_full" and "another register" in lane.view["prompts"][0]["message"]
    assert lane.intents() == [] and service.requests == []


async def test_a_charged_sale_whose_commit_fails_is_recorded_when_lane_db_recovers(paypay_lane: Lane) -> None:
    lane, service = paypay_lane
    fail_next_sale_commit(lane)
    await lane.scan(TEA)
    await lane.scan(WALLET, symbology="qr")
    await lane.settled()
    [intent] = lane.intents()
    assert intent["state"] == "succeeded" and lane.view["state"] == "paid"
    assert len(lane.events("omo.sale/1")) == 1 and service.charged(intent["payment_id"]) == 1


async def test_a_lane_without_a_payment_adapter_takes_no_payment_and_says_so(session_lane: SessionLane) -> None:
    assert session_lane.controller is not None
    session_lane.use_adapter(build_none(PaymentSection()))      # the default: no [payment] adapter configured
    await session_lane.scan(TEA)
    refused = await session_lane.checkout.pay("wallet_qr")
    assert refused.refused == "method_not_available" and session_lane.view["state"] == "scanning"
    await session_lane.scan(WALLET, symbology="qr")
    await session_lane.settled()
    assert session_lane.view["state"] == "scanning" and session_lane.intents() == []
    assert session_lane.events("omo.sale/1") == []
