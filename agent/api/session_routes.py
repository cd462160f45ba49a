"""The session's routes on the local API (docs/openapi.yaml): the kiosk screen and staff act through these.

A refused action answers 409 with a `detail` saying why and what to do, its `reason` code, and the session as
it stands, so the screen never has to guess. Staff actions take a staff token (the staff app's signed QR, as
text), verified offline like a scanned one; a bad or missing token answers 403.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from agent.interpret.meanings import StaffCode
from agent.session.checkout import Checkout
from agent.session.controller import SessionController
from agent.session.pipeline import Pipeline
from agent.session.refunds import SaleNotFound, reverse_sale
from agent.session.rules import action_rules
from agent.session.rules.staff_call import call_staff
from agent.session.rules.visit_change import Change
from agent.sync.event_ids import new_event_id

MAX_BODY = 4096


SkipBagging = Callable[[], Awaitable[str | None]]
SKIP_REFUSALS = {"bagging_off": "This register has no bagging scale: there is nothing to skip.",
                 "nothing_to_skip": "Please scan the item first, then press skip bagging.",
                 "no_weight_check": "The bagging scale is not checking now: just carry on."}


class SessionRoutes:
    def __init__(self, controller: SessionController, pipeline: Pipeline, checkout: Checkout,
                 skip_bagging: SkipBagging | None = None) -> None:
        self.controller = controller
        self.pipeline = pipeline
        self.checkout = checkout          # the payment owner: paying and cancelling a payment go straight to it
        self.skip_bagging = skip_bagging  # the bagging scale's "skip bagging" (app.py wires it), None: no scale

    def add_to(self, app: web.Application) -> None:
        router = app.router
        router.add_get("/v1/session", self.get)
        router.add_post("/v1/session/items", self.add_item)
        router.add_post("/v1/session/lines/{line_id}/void", self.void)
        router.add_post("/v1/session/pay", self.pay)
        router.add_post("/v1/session/payment/cancel", self.cancel_payment)
        router.add_post("/v1/session/cancel", self.cancel)
        router.add_post("/v1/session/suspend", self.suspend)
        router.add_post("/v1/session/points", self.points)
        router.add_post("/v1/session/attendant", self.call_attendant)
        router.add_post("/v1/session/skip-bagging", self.skip)
        router.add_post("/v1/attendant/approve", self.approve)
        router.add_post("/v1/attendant/reject", self.reject)
        router.add_post("/v1/lane/lock", self.lock)
        router.add_post("/v1/lane/unlock", self.unlock)
        router.add_post("/v1/sales/{sale_id}/void", self.void_sale)

    async def get(self, request: web.Request) -> web.Response:
        return web.json_response(self.controller.view())

    async def add_item(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        code = body.get("code")
        if not isinstance(code, str) or not 0 < len(code) <= 512:
            raise _bad("`code` must be the text of the code, 1 to 512 characters")
        refused = await self.pipeline.manual_entry(code)
        return self._answer(refused)

    async def void(self, request: web.Request) -> web.Response:
        line_id = request.match_info["line_id"]
        controller = self.controller
        committed = await controller.apply(lambda s: action_rules.void(s, line_id, controller.settings,
                                                                  controller.clock.time()))
        return self._answer(committed.change)

    async def pay(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        # No default: a guessed method could start a payment the lane cannot take (checked before anything is
        # recorded or sent; a method this lane's adapter lacks is a 409 from the checkout).
        method = body.get("method")
        if not isinstance(method, str) or method not in ("simulated", "wallet_qr"):
            raise _bad("`method` is required and must be \"wallet_qr\" (the lane shows a QR the app pays) or "
                       "\"simulated\" (a lane with the simulated adapter); a wallet's own code is paid by "
                       "scanning it")
        change = await self.checkout.pay(method)
        return self._answer(change)

    async def cancel_payment(self, request: web.Request) -> web.Response:
        return self._answer(await self.checkout.cancel_by_shopper())

    async def void_sale(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        staff = self.staff_code(body)
        if staff.claims.role != "supervisor":     # checked before anything is read or sent: nothing changes
            raise web.HTTPForbidden(text=json.dumps({"detail": f"voiding a paid sale needs a supervisor: this token's "
                                                     f"role is {staff.claims.role!r}; ask a supervisor to scan "
                                                     "their code (staff tokens with role \"supervisor\")"}),
                                    content_type="application/json")
        reason = body.get("reason", "staff")
        if not isinstance(reason, str) or not 0 < len(reason) <= 200:
            raise _bad("`reason` must be a short text, 1 to 200 characters")
        try:
            answer = await reverse_sale(self.controller, request.match_info["sale_id"], staff.staff_id, reason)
        except SaleNotFound:
            raise web.HTTPNotFound(text=json.dumps({"detail": "no sale with this ID was recorded at this lane; "
                                                    "check the receipt's sale ID"}),
                                   content_type="application/json") from None
        return web.json_response(answer.as_dict(), status=200 if answer.state == "done" else 202)

    async def cancel(self, request: web.Request) -> web.Response:
        controller = self.controller
        committed = await controller.apply(
            lambda s: action_rules.cancel(s, controller.settings, controller.clock.time()))
        return self._answer(committed.change)

    async def suspend(self, request: web.Request) -> web.Response:
        controller = self.controller
        committed = await controller.apply(
            lambda s: action_rules.suspend(s, controller.settings, controller.clock.time()))
        return self._answer(committed.change)

    async def points(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        points = _whole(body.get("points"))
        if points is None or points < 0:
            raise _bad("`points` must be a whole number of points, 0 or more")
        allowed = self.pipeline.points_redemption_allowed()
        controller = self.controller
        committed = await controller.apply(lambda s: action_rules.redeem_points(s, points, allowed, controller.settings,
                                                                           controller.clock.time()))
        return self._answer(committed.change)

    async def call_attendant(self, request: web.Request) -> web.Response:
        controller, synced = self.controller, self.pipeline.clock_trusted()
        committed = await controller.apply(lambda s: call_staff(s, settings=controller.settings,
                                                                now=controller.clock.time(), new_id=new_event_id,
                                                                clock_synced=synced))
        return self._answer(committed.change)

    async def skip(self, request: web.Request) -> web.Response:
        """The shopper's "skip bagging" for the last item scanned (a bulky one): allowed up to the configured
        weight, above it a call (docs/config.md `[bagging]`)."""
        refused = "bagging_off" if self.skip_bagging is None else await self.skip_bagging()
        if refused is None:
            return web.json_response(self.controller.view())
        return web.json_response({"detail": SKIP_REFUSALS[refused], "reason": refused,
                                  "session": self.controller.view()}, status=409)

    async def approve(self, request: web.Request) -> web.Response:
        return await self._staff(request, "approve")

    async def reject(self, request: web.Request) -> web.Response:
        return await self._staff(request, "reject")

    async def lock(self, request: web.Request) -> web.Response:
        return await self._staff(request, "lock")

    async def unlock(self, request: web.Request) -> web.Response:
        return await self._staff(request, "unlock")

    async def _staff(self, request: web.Request, what: str) -> web.Response:
        staff = self.staff_code(await json_body(request))
        controller, settings = self.controller, self.controller.settings
        now = controller.clock.time()
        committed = await controller.apply({
            "approve": lambda s: action_rules.resolve(s, approved=True, staff_id=staff.staff_id, settings=settings,
                                                 now=now),
            "reject": lambda s: action_rules.resolve(s, approved=False, staff_id=staff.staff_id, settings=settings,
                                                now=now),
            "lock": lambda s: action_rules.lock(s, staff.staff_id, settings, now),
            "unlock": lambda s: action_rules.unlock(s, staff.staff_id, settings, now),
        }[what])
        return self._answer(committed.change)

    def staff_code(self, body: dict[str, Any]) -> StaffCode:
        token = body.get("token")
        if not isinstance(token, str) or not token:
            raise web.HTTPForbidden(text=json.dumps({"detail": "a staff token is required: scan or paste the "
                                                     "staff app's code as `token`"}), content_type="application/json")
        meaning = self.pipeline.interpret_text(token)
        if not isinstance(meaning, StaffCode):
            reason = getattr(meaning, "reason", None) or meaning.kind
            raise web.HTTPForbidden(text=json.dumps({"detail": f"not a valid staff token ({reason}); ask for a "
                                                     "fresh code from the staff app"}),
                                    content_type="application/json")
        return meaning

    def _answer(self, change: Change | None) -> web.Response:
        session = self.controller.view()
        if change is None or change.ok:
            return web.json_response(session)
        prompt = change.session.prompts[0] if change.session.prompts else None
        return web.json_response({"detail": prompt.message if prompt else change.refused, "reason": change.refused,
                                  "session": session}, status=409)


async def json_body(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise _bad(f"the body is over {MAX_BODY} bytes")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise _bad(f"the body is over {MAX_BODY} bytes")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _bad("the body is not JSON") from None
    if not isinstance(body, dict):
        raise _bad("the body must be a JSON object")
    return body


def _whole(value: Any) -> int | None:
    """A JSON integer; 5.0 is one too (JSON Schema's `integer`, and what some clients send), 5.5 and true not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value if isinstance(value, int) else None


def _bad(detail: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"detail": detail}), content_type="application/json")
