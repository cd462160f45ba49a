"""The `paypay` adapter against the payment-service simulator on 127.0.0.1, faults injected; charged exactly once."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from agent.errors import ConfigError
from agent.payment import signing
from agent.payment.adapter import PaymentRef, PaymentRequest, PaymentStatus, PaymentUnknown
from agent.payment.paypay import PayPayAdapter
from simulators.cloud.payment_service import PaymentService
from simulators.cloud.store_catalog import TEA
from simulators.doubles.waiting import wait_until
from simulators.fixtures.secrets import LaneSecretSweep
from simulators.fixtures.session import SessionLane

WALLET = "281234567890123456"


@pytest.fixture
def service(payment_service: PaymentService) -> PaymentService:
    return payment_service


@pytest.fixture
async def adapter(service: PaymentService) -> AsyncIterator[PayPayAdapter]:
    paypay = PayPayAdapter(service.url, "M-1", "key-1", b"secret-1", timeout_s=2)
    try:
        yield paypay
    finally:
        await paypay.close()


def request(payment_id: str = "pay-1", code: str = WALLET) -> PaymentRequest:
    return PaymentRequest(payment_id, 1234, "JPY", "store-001", "lane-01", user_code=code)


async def test_a_wallet_payment_completes_and_is_charged_once(adapter: PayPayAdapter, service: PaymentService) -> None:
    result = await adapter.pay(request())
    assert result.status is PaymentStatus.COMPLETED and result.reference
    assert service.charged("pay-1") == 1 and service.ledger["pay-1"].amount == 1234


async def test_a_decline_is_a_failure_with_words_for_the_shopper(adapter: PayPayAdapter,
                                                                 service: PaymentService) -> None:
    service.decline_codes.add(WALLET)
    result = await adapter.pay(request())
    assert result.status is PaymentStatus.FAILED and "declined" in (result.reason or "")
    assert service.charged("pay-1") == 0


async def test_a_reply_lost_after_the_charge_is_unknown_and_the_status_says_completed(
        adapter: PayPayAdapter, service: PaymentService) -> None:
    service.drop_after_commit = 1
    with pytest.raises(PaymentUnknown):
        await adapter.pay(request())
    assert (await adapter.status(PaymentRef("pay-1"))).status is PaymentStatus.COMPLETED
    assert service.charged("pay-1") == 1


async def test_a_second_create_with_the_same_id_never_charges_again(adapter: PayPayAdapter,
                                                                    service: PaymentService) -> None:
    await adapter.pay(request())
    with pytest.raises(PaymentUnknown, match="already sent"):
        await adapter.pay(request())
    assert service.charged("pay-1") == 1


async def test_a_5xx_is_unknown_and_nothing_was_charged(adapter: PayPayAdapter, service: PaymentService) -> None:
    service.fail_5xx = 1
    with pytest.raises(PaymentUnknown, match="HTTP 500"):
        await adapter.pay(request())
    assert (await adapter.status(PaymentRef("pay-1"))).status is PaymentStatus.NOT_FOUND


async def test_a_rate_limit_backs_off_and_the_payment_goes_once(adapter: PayPayAdapter,
                                                               service: PaymentService) -> None:
    service.rate_limit = 2
    started = time.monotonic()
    result = await adapter.pay(request())
    assert result.status is PaymentStatus.COMPLETED and service.charged("pay-1") == 1
    assert time.monotonic() - started >= 1.5, "backed off 0.5 s, then 1 s"
    assert [r for r in service.requests if r == ("POST", "/v2/payments")] == [("POST", "/v2/payments")] * 3


async def test_a_wrong_secret_is_refused_naming_the_keys_to_check(service: PaymentService) -> None:
    wrong = PayPayAdapter(service.url, "M-1", "key-1", b"not-the-secret", timeout_s=2)
    try:
        with pytest.raises(ConfigError, match="api_secret_file"):
            await wrong.pay(request())
    finally:
        await wrong.close()
    assert service.ledger == {}


@pytest.mark.parametrize(("change", "why"), [
    ({"body": b'{"amount": 2}'}, "body hash"),
    ({"now": 1_000}, "epoch"),
    ({"path": "/v2/refunds"}, "signature"),
])
def test_a_tampered_or_stale_signature_is_refused(change: dict[str, object], why: str) -> None:
    now = 1_800_000_000
    value = signing.header("k", b"s", "/v2/payments", "POST", "n1", now, "application/json", b'{"amount": 1}')
    args: dict[str, object] = {"path": "/v2/payments", "body": b'{"amount": 1}', "now": now, **change}
    problem = signing.verify(value, {"k": b"s"}, str(args["path"]), "POST", "application/json",
                             bytes(args["body"]), int(args["now"]))  # type: ignore[arg-type, call-overload]
    assert problem is not None and why in problem


async def test_a_session_paid_with_a_wallet_code_whose_reply_was_lost_records_one_sale_and_keeps_no_code(
        session_lane: SessionLane, service: PaymentService, adapter: PayPayAdapter,
        lane_secret_sweep: LaneSecretSweep) -> None:
    lane = session_lane
    lane_secret_sweep.add("wallet code", WALLET)       # swept at the end: lane.db, WAL, log, outbox, screen
    assert lane.controller is not None and lane.lane_db is not None
    lane.use_adapter(adapter)
    await lane.scan(TEA)
    service.drop_after_commit = 1
    await lane.scan(WALLET, "qr")                          # the wallet's code, as the scanner reads it
    await wait_until(lambda: lane.view["state"] == "paid", 5, 0.01)
    [sale] = lane.events("omo.sale/1")
    assert lane.view["state"] == "paid" and service.charged(sale["payment"]["payment_id"]) == 1
    assert len(service.ledger) == 1
    swept = lane_secret_sweep.check()
    assert swept is not None and any(where.endswith("lane.db-wal") for where in swept.scanned)
