"""What a product label's lot and dates decide at the scan (pure): a recalled lot, a past expiry or best-before.

Rules (docs/session.md, "Lots and dates"):
- a lot the catalog stops (a `sale_stop` on the GTIN and that lot, or on every lot, "*") is refused, and the
  screen shows the stop's own message: what the shopper should do with the item;
- an expiry date (GS1 AI 17) before the store's date is refused while the lane's clock is trusted (the kernel's
  NTP verdict, docs/interpretation.md "Clock policy"); while it is not, the date may be the clock's mistake, and
  the offline policy's `expiry_when_clock_untrusted` decides: call an attendant, refuse, or accept;
- a best-before date (AI 15) in the past is judged the same way only where the policy's
  `refuse_past_best_before` says so: best-before is a quality date, and selling after it is lawful.
A refusal changes nothing but the prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from agent.catalog.records import OfflinePolicy, SaleStop
from agent.interpret.meanings import Product
from agent.session.rules.basket import Prompt, Session, with_prompt
from agent.session.rules.visit_change import Change

DATE_PROMPTS = {      # by the reason a scan event gives
    "expired": Prompt("expired_item", "This item is past its expiry date and cannot be sold. Please put it aside.",
                      "warning"),
    "past_best_before": Prompt("past_best_before", "This item is past its best-before date and cannot be sold here. "
                               "Please put it aside.", "warning"),
}


@dataclass(frozen=True, slots=True)
class LabelDates:
    """What the lot and date rules read besides the meaning: the store's date, the policy, the lot's stop."""

    today: date | None = None          # None: no date known, so no best-before judgement and no markdown
    policy: OfflinePolicy = OfflinePolicy()
    stop: SaleStop | None = None


NO_DATES = LabelDates()


class DateVerdict(NamedTuple):
    action: str                        # refuse | attendant | accept
    reason: str                        # expired | past_best_before


def verdict(meaning: Product, dates: LabelDates, clock_synced: bool) -> DateVerdict | None:
    """None while the label's dates allow the sale; else what to do, by the clock's trust and the policy."""
    reason = _past(meaning, dates)
    if reason is None:
        return None
    return DateVerdict("refuse" if clock_synced else dates.policy.expiry_when_clock_untrusted, reason)


def _past(meaning: Product, dates: LabelDates) -> str | None:
    if meaning.blocked == "expired":   # AI 17 before the store's date, judged by the interpreter ([interpret])
        return "expired"
    if (dates.policy.refuse_past_best_before and meaning.best_before is not None and dates.today is not None
            and meaning.best_before < dates.today):
        return "past_best_before"
    return None


def date_refusal(session: Session, reason: str) -> Change:
    prompt = DATE_PROMPTS[reason]
    return Change(with_prompt(session, prompt), scan_fields={"outcome": "rejected", "reason": reason},
                  refused=prompt.code)


def recall_refusal(session: Session, stop: SaleStop) -> Change:
    """Refused with the stop's message; the screen's Japanese shows `message_ja` from the prompt's args (without
    it, the message as the catalog wrote it)."""
    args = {"message": stop.message, "reason": stop.reason, "lot": stop.lot,
            **({"message_ja": stop.message_ja} if stop.message_ja else {})}
    prompt = Prompt("recalled_lot", stop.message, "error", args)
    return Change(with_prompt(session, prompt), refused="recalled_lot",
                  scan_fields={"outcome": "rejected", "reason": "recalled_lot", "stop_reason": stop.reason})


def label_days(meaning: Product, today: date | None) -> tuple[str | None, str | None]:
    """A line's `expiry` and `scanned_on` (ISO dates), which the expiry-day markdown prices by; both None for a
    label without an expiry."""
    if meaning.expiry is None or today is None:
        return None, None
    return meaning.expiry.isoformat(), today.isoformat()
