"""The receipt's routes on the local API (docs/openapi.yaml): the shopper's choice on the paid screen, and a staff
reprint by sale ID.

The choice answers with the screen's `receipt` message (printing, sent to the app, a QR with the e-receipt's
link, or none). A reprint takes a staff token like the other staff actions; it answers 200 once the printer has
taken the whole receipt, or 409 with the printer's reason (paper out, cover open, offline) and nothing printed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from agent.api.session_routes import json_body
from agent.interpret.meanings import StaffCode
from agent.receipts.choice import CHOICES
from agent.receipts.printing import ReceiptPrinting


class ReceiptRoutes:
    def __init__(self, receipts: ReceiptPrinting, *, staff: Callable[[dict[str, Any]], StaffCode]) -> None:
        self.receipts = receipts
        self.staff = staff        # a staff token checked as the session's staff actions check it (403 if not)

    def add_to(self, app: web.Application) -> None:
        app.router.add_post("/v1/session/receipt", self.choose)
        app.router.add_post("/v1/sales/{sale_id}/reprint", self.reprint)

    async def choose(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        choice = body.get("choice")
        if choice not in CHOICES:
            raise _answer(web.HTTPBadRequest, "`choice` must be \"paper\", \"app\" or \"none\"")
        try:
            message = await self.receipts.choose(str(choice))
        except LookupError:
            raise _answer(web.HTTPConflict, "no sale is on the paid screen: a receipt is chosen after paying") from None
        return web.json_response(message)

    async def reprint(self, request: web.Request) -> web.Response:
        staff = self.staff(await json_body(request))
        sale_id = request.match_info["sale_id"]
        try:
            outcome = await self.receipts.reprint(sale_id)
        except LookupError:
            raise _answer(web.HTTPNotFound, "no sale with this ID was recorded at this lane; check the receipt's "
                          "sale ID") from None
        answer = {"sale_id": sale_id, "outcome": outcome, "staff_id": staff.staff_id}
        return web.json_response(answer, status=200 if outcome == "printed" else 409)


def _answer(kind: type[web.HTTPException], detail: str) -> web.HTTPException:
    return kind(text=json.dumps({"detail": detail}), content_type="application/json")
