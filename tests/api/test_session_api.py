"""The session's local API on a real HTTP server on 127.0.0.1: routes, refusals, staff tokens, the WebSocket.

Every response body is validated against docs/openapi.yaml for its path, method and status.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest
import yaml

from agent.api.events import EventHub
from agent.api.server import ApiServer
from agent.api.session_routes import SessionRoutes
from agent.api.settings import ApiSection
from agent.health import HealthRegistry
from agent.payment.paypay import PayPayAdapter
from agent.payment.simulated import SimulatedAdapter
from simulators.cloud.payment_service import PaymentService
from simulators.cloud.store_catalog import BEER, TEA
from simulators.doubles.ports import free_port
from simulators.fixtures.secrets import sweep_secrets
from simulators.fixtures.session import SessionLane

ROOT = Path(__file__).resolve().parents[2]
OPENAPI: dict[str, Any] = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())


@pytest.fixture(autouse=True)
def no_secret_is_written_down(request: pytest.FixtureRequest) -> None:
    """Every journey here ends with the card-data sweep: lane.db, its WAL, the log, the outbox, the screen."""
    sweep_secrets(request)


def check(path: str, method: str, status: int, body: Any) -> None:
    """The body fits the schema docs/openapi.yaml gives for this path, method and status."""
    response = OPENAPI["paths"][path][method]["responses"][str(status)]
    if "$ref" in response:
        response = OPENAPI["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema = {**response["content"]["application/json"]["schema"], "components": OPENAPI["components"]}
    jsonschema.Draft202012Validator(schema).validate(body)


class Client:
    def __init__(self, base: str, http: aiohttp.ClientSession) -> None:
        self.base, self.http = base, http

    async def call(self, method: str, path: str, template: str | None = None,
                   body: dict[str, Any] | None = None) -> tuple[int, Any]:
        async with self.http.request(method, self.base + path, json=body) as response:
            payload = await response.json()
        check(template or path, method.lower(), response.status, payload)
        return response.status, payload


@pytest.fixture
async def api(session_lane: SessionLane) -> AsyncIterator[Client]:
    # These tests drive whole visits through the API, typing codes as the screen's keypad does: typed product
    # codes are `allowed` here (the default, staff approval, is tests/session/test_session_keyed.py's).
    session_lane.settings = replace(session_lane.settings, keyed_codes="allowed")
    await session_lane.restart()
    assert session_lane.controller is not None and session_lane.pipeline is not None
    hub = EventHub()
    session_lane.controller.notify = hub.publish
    port = free_port()
    server = ApiServer(ApiSection(listen=f"127.0.0.1:{port}"), HealthRegistry("t"), hub)
    SessionRoutes(session_lane.controller, session_lane.pipeline, session_lane.checkout).add_to(server.app)
    await server.start()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            yield Client(f"http://127.0.0.1:{port}", http)
    finally:
        await server.stop()


async def test_an_empty_lane_answers_idle(api: Client) -> None:
    status, body = await api.call("GET", "/v1/session")
    assert status == 200 and body["state"] == "idle" and body["lines"] == []


async def test_a_code_typed_on_the_screen_is_added_like_a_scan(api: Client, session_lane: SessionLane) -> None:
    status, body = await api.call("POST", "/v1/session/items", body={"code": TEA})
    assert status == 200 and body["lines"][0]["gtin"] == "0" + TEA and body["totals"]["total"] == 150
    assert session_lane.events("omo.scan/1")[-1]["device"] == "keypad"


async def test_a_refused_action_says_why_with_the_session(api: Client) -> None:
    status, body = await api.call("POST", "/v1/session/pay", body={"method": "simulated"})
    assert status == 409 and body["reason"] == "basket_empty" and body["detail"]
    assert body["session"]["state"] == "idle"


async def test_bad_bodies_are_400_with_a_detail(api: Client) -> None:
    status, body = await api.call("POST", "/v1/session/items", body={"code": ""})
    assert status == 400 and "code" in body["detail"]
    status, body = await api.call("POST", "/v1/session/pay", body={"method": "cash"})
    assert status == 400


async def test_void_then_pay_then_the_lane_is_paid(api: Client, session_lane: SessionLane) -> None:
    await api.call("POST", "/v1/session/items", body={"code": TEA})
    await api.call("POST", "/v1/session/items", body={"code": TEA})
    status, body = await api.call("POST", "/v1/session/lines/L1/void", "/v1/session/lines/{line_id}/void")
    assert status == 200 and body["lines"] == []
    await api.call("POST", "/v1/session/items", body={"code": TEA})
    status, body = await api.call("POST", "/v1/session/pay", body={"method": "simulated"})
    assert status == 200 and body["state"] == "paid" and body["sale_id"]
    assert len(session_lane.events("omo.sale/1")) == 1


async def test_staff_actions_need_a_valid_staff_token(api: Client, session_lane: SessionLane) -> None:
    await api.call("POST", "/v1/session/items", body={"code": BEER})
    status, body = await api.call("POST", "/v1/attendant/approve", body={"token": "not-a-token"})
    assert status == 403 and "staff token" in body["detail"]
    member = session_lane.issuer.member("M-0001")
    status, body = await api.call("POST", "/v1/attendant/approve", body={"token": member})
    assert status == 403
    status, body = await api.call("POST", "/v1/attendant/reject", body={"token": session_lane.issuer.staff("S-9")})
    assert status == 200 and body["state"] == "scanning" and body["lines"] == []


async def test_a_locked_lane_refuses_scans_until_unlocked(api: Client, session_lane: SessionLane) -> None:
    staff = session_lane.issuer.staff("S-9")
    status, body = await api.call("POST", "/v1/lane/lock", body={"token": staff})
    assert status == 200 and body["state"] == "locked"
    status, body = await api.call("POST", "/v1/session/items", body={"code": TEA})
    assert status == 409 and body["reason"] == "lane_locked"
    status, body = await api.call("POST", "/v1/lane/unlock", body={"token": staff})
    assert status == 200 and body["state"] == "idle"


async def test_the_websocket_sends_the_new_state_after_each_commit(api: Client, session_lane: SessionLane) -> None:
    async with api.http.ws_connect(api.base + "/v1/events") as ws:
        await api.call("POST", "/v1/session/items", body={"code": TEA})
        async with asyncio.timeout(5):
            while True:
                message = json.loads((await ws.receive()).data)
                if message["type"] == "session":
                    break
    assert message["session"]["lines"][0]["gtin"] == "0" + TEA
    assert session_lane.lane_db is not None
    committed = session_lane.lane_db.reader().execute("SELECT count(*) FROM visits").fetchone()[0]
    assert committed == 1, "the screen heard of the line only once it was in lane.db"


async def test_points_pay_part_of_the_basket_and_travel_in_the_sale(api: Client, session_lane: SessionLane) -> None:
    status, body = await api.call("POST", "/v1/session/points", body={"points": 50})
    assert status == 409 and body["reason"] == "no_basket"
    await api.call("POST", "/v1/session/items", body={"code": TEA})
    status, body = await api.call("POST", "/v1/session/points", body={"points": 50})
    assert status == 409 and body["reason"] == "member_required"
    await api.call("POST", "/v1/session/items", body={"code": session_lane.issuer.member("M-0001")})
    status, body = await api.call("POST", "/v1/session/points", body={"points": 5000})
    assert status == 409 and body["reason"] == "points_balance"
    status, body = await api.call("POST", "/v1/session/points", body={"points": 40})
    assert status == 200 and (body["totals"]["total"], body["totals"]["amount_due"]) == (140, 100)
    status, body = await api.call("POST", "/v1/session/pay", body={"method": "simulated"})
    assert status == 200 and body["state"] == "paid"
    [sale] = session_lane.events("omo.sale/1")
    assert (sale["points_redeemed"], sale["amount_due"], sale["payment"]["amount"]) == (40, 100, 100)
    assert sale["points"] == 2, "earned on what was paid: 100 / 100 x 2 (gold)"


async def test_the_lanes_qr_is_shown_through_the_api_and_can_be_cancelled(api: Client,
                                                                         session_lane: SessionLane) -> None:
    session_lane.use_adapter(SimulatedAdapter(app_pays_after_s=None))     # the app never pays
    await api.call("POST", "/v1/session/items", body={"code": TEA})
    status, body = await api.call("POST", "/v1/session/pay", body={"method": "wallet_qr"})
    assert status == 200 and body["state"] == "paying" and body["payment"]["status"] == "waiting"
    assert body["payment"]["qr_payload"] and body["payment"]["expires_at"]
    status, body = await api.call("POST", "/v1/session/payment/cancel")
    assert status == 200 and body["state"] == "scanning" and body["payment"]["status"] == "cancelled"
    status, body = await api.call("POST", "/v1/session/payment/cancel")
    assert status == 409 and body["reason"] == "payment_in_progress"


async def test_staff_void_a_sale_through_the_api(api: Client, session_lane: SessionLane) -> None:
    await api.call("POST", "/v1/session/items", body={"code": TEA})
    status, paid = await api.call("POST", "/v1/session/pay", body={"method": "simulated"})
    template = "/v1/sales/{sale_id}/void"
    path = f"/v1/sales/{paid['sale_id']}/void"
    status, body = await api.call("POST", path, template, body={"reason": "damaged"})
    assert status == 403
    staff = session_lane.issuer.staff("S-9", role="supervisor")
    status, body = await api.call("POST", "/v1/sales/NOSUCHSALE/void", template, body={"token": staff})
    assert status == 404 and "sale ID" in body["detail"]
    status, body = await api.call("POST", path, template, body={"token": staff, "reason": "damaged"})
    assert status == 200 and (body["kind"], body["state"]) == ("cancel", "done")
    assert session_lane.adapter.ledger[paid["payment"]["payment_id"]].result.status.value == "CANCELED"


async def test_a_staff_token_without_the_supervisor_role_cannot_void_a_paid_sale(api: Client,
                                                                                 session_lane: SessionLane) -> None:
    await api.call("POST", "/v1/session/items", body={"code": TEA})
    status, paid = await api.call("POST", "/v1/session/pay", body={"method": "simulated"})
    path, template = f"/v1/sales/{paid['sale_id']}/void", "/v1/sales/{sale_id}/void"
    before = session_lane.events()
    for token in (session_lane.issuer.staff("S-1"), session_lane.issuer.staff("S-1", role="staff")):
        status, body = await api.call("POST", path, template, body={"token": token, "reason": "damaged"})
        assert status == 403 and "supervisor" in body["detail"]
    assert session_lane.adapter.ledger[paid["payment"]["payment_id"]].result.status.value == "COMPLETED"
    assert session_lane.lane_db is not None
    reversals = session_lane.lane_db.reader().execute("SELECT count(*) FROM sale_reversals").fetchone()[0]
    assert reversals == 0 and session_lane.events() == before


async def test_pay_without_a_method_or_with_one_the_lane_lacks_is_refused_before_anything_is_sent(
        api: Client, session_lane: SessionLane, payment_service: PaymentService) -> None:
    adapter = PayPayAdapter(payment_service.url, "M-1", "key-1", b"secret-1", timeout_s=2)
    session_lane.use_adapter(adapter)
    try:
        await api.call("POST", "/v1/session/items", body={"code": TEA})
        status, body = await api.call("POST", "/v1/session/pay")                 # no body at all
        assert status == 400 and "method" in body["detail"]
        status, body = await api.call("POST", "/v1/session/pay", body={})
        assert status == 400 and "method" in body["detail"]
        status, body = await api.call("POST", "/v1/session/pay", body={"method": "simulated"})
        assert status == 409 and body["reason"] == "method_not_available", "a PayPay lane has no simulator"
        assert body["session"]["state"] == "scanning"
        assert session_lane.intents() == [] and payment_service.requests == [], "nothing recorded, nothing sent"
    finally:
        await adapter.close()


async def test_the_shopper_calls_staff_once(api: Client, session_lane: SessionLane) -> None:
    status, body = await api.call("POST", "/v1/session/attendant")
    assert status == 200 and body["state"] == "needs_attendant" and body["session_id"]
    assert [i["reason"] for i in body["interventions"]] == ["shopper_call"]
    status, body = await api.call("POST", "/v1/session/attendant")
    assert status == 409 and body["reason"] == "needs_attendant" and len(body["session"]["interventions"]) == 1
    status, body = await api.call("POST", "/v1/attendant/approve", body={"token": session_lane.issuer.staff("S-9")})
    assert status == 200 and body["state"] == "scanning" and body["interventions"] == []
