"""The lane's printing flow: a recorded sale's receipt to the printer, the e-receipt, and staff reprints.

The sale is recorded before anything here runs (the session commits it, then tells `sale_recorded`), so a
printer that fails never holds a sale: the receipt is then offered on the screen as an e-receipt. One task owns
the printer: it prints the jobs queued and, while idle, asks the printer's status every `poll_s`. Near-end makes
the lane degraded with reason `printer_near_end` (the attendant's status makes it a call) before the next
receipt is sent; paper out, cover open and offline make it down with that reason until the printer is ready.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agent.health import ComponentHealth
from agent.receipts.choice import app_event, first_choice, screen_message
from agent.receipts.layout import receipt_job
from agent.receipts.links import receipt_id, receipt_url
from agent.receipts.settings import ReceiptsSection
from agent.store import Database
from agent.sync import outbox

logger = logging.getLogger(__name__)
Notify = Callable[[dict[str, Any]], None]
NEAR_END = "printer_near_end"
REPRINT_WAIT_S = 30.0     # how long staff wait for a reprint before hearing that it is queued


@dataclass(frozen=True, slots=True)
class Job:
    sale: Mapping[str, Any]
    copy: bool
    done: asyncio.Future[str]          # "printed", or the reason it was not


class ReceiptPrinting:
    """Owns the printer (when `[receipts] printer` names one) and the receipt of each recorded sale."""

    def __init__(self, settings: ReceiptsSection, *, lane_id: str, lane_db: Database, health: ComponentHealth | None,
                 notify: Notify, language: Callable[[], str] = lambda: "ja",
                 member_choice: Callable[[str], str | None] = lambda member_id: None,
                 wake: Callable[[int], None] = lambda priority: None) -> None:
        self.settings, self.lane_id, self.lane_db = settings, lane_id, lane_db
        self.health = health or ComponentHealth("printer")       # no printer: counted, never shown
        self.notify, self.language, self.member_choice, self.wake = notify, language, member_choice, wake
        self.key = settings.key()
        self.jobs: asyncio.Queue[Job] = asyncio.Queue(maxsize=16)
        self.current: Mapping[str, Any] | None = None    # the sale on the paid screen, for the shopper's choice
        self.printed: set[str] = set()                   # sales whose receipt came out (once per sale; reprints)
        self.tasks: set[asyncio.Task[dict[str, Any]]] = set()
        self.held: Job | None = None     # the job being printed: kept when the printer is lost, printed on reopen

    # -- the sale's receipt --------------------------------------------------------------------------------

    def link(self, sale_id: str) -> str | None:
        """The e-receipt's URL for `sale_id` (signed), or None without `link_template`."""
        if self.settings.link_template is None or self.key is None:
            return None
        return receipt_url(self.settings.link_template, sale_id, self.key)

    def current_link(self) -> str | None:
        """The e-receipt's link of the sale on the paid screen (the screen's QR), or None."""
        return None if self.current is None else self.link(str(self.current["sale_id"]))

    def sale_recorded(self, sale: Mapping[str, Any]) -> None:
        """A sale was committed: start its receipt with the first choice (the shopper may change it)."""
        if sale.get("status", "completed") != "completed" or "receipt" not in sale:
            return
        self.current = sale
        member = sale.get("member_id")
        choice = first_choice(self.settings.default, self.member_choice(member) if member else None)
        if choice == "paper" and self.settings.printer is None:
            choice = "none"          # a lane without a printer: nothing to print unless the shopper asks for it
        task = asyncio.get_running_loop().create_task(self._apply(sale, choice))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def choose(self, choice: str) -> dict[str, Any]:
        """The shopper's choice on the paid screen for the sale just made; the screen's message in answer."""
        sale = self.current
        if sale is None:
            raise LookupError("no sale is on the paid screen")
        return await self._apply(sale, choice)

    async def _apply(self, sale: Mapping[str, Any], choice: str) -> dict[str, Any]:
        sale_id = str(sale["sale_id"])
        if choice == "paper" and self.settings.printer is not None:
            if sale_id in self.printed:
                return self._tell(screen_message(sale_id, choice, "printed"))
            self._queue(sale, copy=False)
            return self._tell(screen_message(sale_id, choice, "printing"))
        if choice == "paper":
            return self._tell(screen_message(sale_id, choice, "failed", reason="no_printer", link=self.link(sale_id)))
        if choice == "app" and sale.get("member_id"):
            await self.lane_db.write(self._enqueue_app_event, dict(sale))
            self.wake(outbox.SCHEMAS["omo.receipt/1"][1])
            return self._tell(screen_message(sale_id, choice, "sent"))
        if choice == "app":
            return self._tell(screen_message(sale_id, choice, "shown", link=self.link(sale_id)))
        return self._tell(screen_message(sale_id, "none", "none"))

    def _enqueue_app_event(self, conn: sqlite3.Connection, sale: Mapping[str, Any]) -> None:
        signed = None if self.key is None else receipt_id(str(sale["sale_id"]), self.key)
        outbox.enqueue(conn, "sales", "omo.receipt/1", app_event(sale, signed))

    def _tell(self, message: dict[str, Any]) -> dict[str, Any]:
        self.notify(message)
        return message

    def _queue(self, sale: Mapping[str, Any], *, copy: bool) -> asyncio.Future[str]:
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.jobs.put_nowait(Job(sale, copy, done))
        return done

    # -- staff reprints --------------------------------------------------------------------------------------

    async def reprint(self, sale_id: str) -> str:
        """Print a recorded sale's receipt again, marked as a copy; "printed" or why not. LookupError: no sale."""
        sale = _sale(self.lane_db.reader(), sale_id)     # one point query on the loop's reader
        if sale is None:
            raise LookupError(sale_id)
        if self.settings.printer is None:
            return "no_printer"
        try:
            async with asyncio.timeout(REPRINT_WAIT_S):
                return await asyncio.shield(self._queue(sale, copy=True))
        except TimeoutError:
            return "queued"           # the printer is not answering: it prints when it is back

    # -- the printer's task ----------------------------------------------------------------------------------

    async def run(self, health: ComponentHealth) -> None:
        """Supervised: opens the printer, prints what is queued and polls its status while idle. An unplugged
        printer raises DeviceUnavailable and the supervisor opens it again."""
        from drivers.printers import open_printer

        options = dict(self.settings.printer or {})
        driver = str(options.pop("driver"))
        async with open_printer(driver, options) as printer:
            self._observe(await printer.status())
            while True:
                if self.held is None:
                    try:
                        self.held = await asyncio.wait_for(self.jobs.get(), self.settings.poll_s)
                    except TimeoutError:
                        self._observe(await printer.status())
                        continue
                await self._print(printer, self.held)     # DeviceUnavailable: kept in `held`, printed on reopen
                self.held = None

    async def _print(self, printer: Any, job: Job) -> None:
        """Ask the status first (a near-end call goes out before this receipt), then send the whole job."""
        from drivers.printers import PrintFailed

        sale_id = str(job.sale["sale_id"])
        status = self._observe(await printer.status())
        outcome = _failure(status)
        if outcome is None:
            data = receipt_job({**job.sale["receipt"], "lane": self.lane_id,
                                "currency": job.sale.get("currency", "JPY")},
                               printer.profile, self.language(), self.link(sale_id), copy=job.copy)
            try:
                self._observe(await printer.send(data))
                outcome = "printed"
            except PrintFailed as exc:
                self._observe(exc.status)
                outcome = _failure(exc.status) or "error"
        self._settle(job, sale_id, outcome)

    def _settle(self, job: Job, sale_id: str, outcome: str) -> None:
        if not job.done.done():
            job.done.set_result(outcome)
        if outcome == "printed":
            self.printed.add(sale_id)
            self.health.count("receipts_printed")
        else:
            self.health.count("receipts_failed")
            logger.warning("receipt of sale %s not printed: %s", sale_id, outcome)
        if not job.copy and self.current is not None and self.current.get("sale_id") == sale_id:
            choice = "paper"
            self.notify(screen_message(sale_id, choice, "printed") if outcome == "printed" else
                        screen_message(sale_id, choice, "failed", reason=outcome, link=self.link(sale_id)))

    def _observe(self, status: Any) -> Any:
        """The printer's status as the lane's health: down with the reason it cannot print, degraded near the
        end of the paper (an attendant should change it before a shopper is stranded), else ok."""
        failure = _failure(status)
        if failure is not None:
            self.health.down(failure)
        elif status.paper_near_end and self.settings.near_end_call:
            self.health.degraded(NEAR_END)
        else:
            self.health.ok()
        return status


def _failure(status: Any) -> str | None:
    """Why the printer cannot print now, or None."""
    if not status.online and not (status.paper_out or status.cover_open):
        return "offline"
    if status.paper_out:
        return "paper_out"
    if status.cover_open:
        return "cover_open"
    if status.error:
        return "error"
    return None


def _sale(conn: sqlite3.Connection, sale_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT body FROM sales WHERE sale_id = ?", (sale_id,)).fetchone()
    return None if row is None else dict(json.loads(row[0]))
