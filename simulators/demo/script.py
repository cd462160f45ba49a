"""The demo's scripted OMO journey, as data: who does what, and how it reaches the lane.

Each `Step` says what happens in words and does one thing through a real channel: bytes on the scanner's pty,
a QR shown to the overhead camera, a tap on the screen (a POST to the local API, as the kiosk page sends it),
the shopper's app paying the lane's QR (the payment service's app endpoint), or the uplink cut and restored
(the broker stopped and started). `Expect` waits for what the lane must show after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent.interpret.gtin import check_digit
from simulators.cloud.store_catalog import (
    BATTERIES,
    BEER,
    COUPON_100,
    MEMBER,
    ONIGIRI,
    ORDER_READY,
    TEA,
    beef_label,
)
from simulators.cloud.tokens import TokenIssuer

WALLET_1, WALLET_2 = "281234567890123456", "289876543210987654"     # wallet codes the shoppers' apps show


@dataclass(frozen=True)
class Expect:
    state: str | None = None            # the session's state to wait for
    prompt: str | None = None           # a prompt code to wait for
    lines: int | None = None            # lines in the basket
    uplink: bool | None = None          # the MQTT link up (True) or down (False)


@dataclass(frozen=True)
class Step:
    what: str
    action: str                         # scan | camera | tap | app_pays | cut_uplink | restore_uplink | drain
    code: str = ""
    aim: str = ""
    path: str = ""
    body: dict[str, Any] = field(default_factory=dict)
    expect: Expect = Expect()
    visit: str = ""                     # a heading: a new part of the journey starts here


def journey(issuer: TokenIssuer) -> list[Step]:
    """Three shoppers and a pickup; the last sale made while the store's uplink is down."""
    staff = issuer.staff("S-0042")
    bad_digit = TEA[:-1] + str((int(TEA[-1]) + 1) % 10)
    assert check_digit(bad_digit[:-1]) != int(bad_digit[-1])
    return [
        Step("shows the app's member QR to the overhead camera", "camera", issuer.member(MEMBER),
             visit="Shopper 1: a member, with the app", expect=Expect(prompt="member_welcome")),
        Step("scans a green tea (member price)", "scan", TEA, "]E0", expect=Expect(lines=1)),
        Step("scans a second green tea", "scan", TEA, "]E0", expect=Expect(lines=1)),
        Step("scans two salmon onigiri (2 for 300)", "scan", ONIGIRI, "]E0", expect=Expect(lines=2)),
        Step("... and the second", "scan", ONIGIRI, "]E0", expect=Expect(lines=2)),
        Step("scans wagyu weighed at the deli: 350 g (GS1 label)", "scan", beef_label(350), "]C1",
             expect=Expect(lines=3)),
        Step("scans a label with a misprinted check digit", "scan", bad_digit, "]E0"),
        Step("scans a craft beer: age-restricted, staff are called", "scan", BEER, "]E0",
             expect=Expect(state="needs_attendant")),
        Step("staff check the shopper's age and scan their staff code", "scan", staff, "]Q1",
             expect=Expect(state="scanning")),
        Step("shows an app coupon: 100 off a spend of 500", "camera", issuer.coupon(COUPON_100, MEMBER),
             expect=Expect(prompt="coupon_added")),
        Step("taps Pay: the lane shows its QR", "tap", path="/v1/session/pay", body={"method": "wallet_qr"},
             expect=Expect(state="paying", prompt="pay_by_qr")),
        Step("pays the QR with the wallet app", "app_pays", expect=Expect(state="paid")),

        Step("scans AA batteries", "scan", BATTERIES, "]E0", visit="Shopper 2: no membership, a wallet code",
             expect=Expect(state="scanning", lines=1)),
        Step("scans a green tea", "scan", TEA, "]E0", expect=Expect(lines=2)),
        Step("shows the wallet's payment code to the scanner", "scan", WALLET_1, "]Q1", expect=Expect(state="paid")),

        Step("shows the app's order QR: the locker opens compartment A3", "camera", issuer.order(ORDER_READY, MEMBER),
             visit="An online order picked up", expect=Expect(prompt="pickup_collected")),

        Step("the store's uplink is cut", "cut_uplink", visit="Offline: the lane sells on",
             expect=Expect(uplink=False)),
        Step("scans a salmon onigiri", "scan", ONIGIRI, "]E0", expect=Expect(state="scanning", lines=1)),
        Step("tries to pay by the lane's QR: not taken while offline", "tap", path="/v1/session/pay",
             body={"method": "wallet_qr"}, expect=Expect(prompt="payment_offline")),
        Step("shows a wallet code (the store takes those offline)", "scan", WALLET_2, "]Q1",
             expect=Expect(state="paid")),
        Step("the uplink returns: the backlog drains", "restore_uplink", expect=Expect(uplink=True)),
        Step("every event confirmed by the cloud", "drain"),
    ]
