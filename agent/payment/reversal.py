"""When a payment can still be cancelled (a void: the money goes back whole) and when it must be refunded.

PayPay's Open Payment API accepts `DELETE /v2/payments/{merchantPaymentId}` until 00:14:59 of the day after the
payment, in Japan's time; after that only a refund (`POST /v2/refunds`, keyed by `merchantRefundId`) gives the
money back. The rule is pure so the lane and its tests agree on the instant, whatever the machine's zone.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

CANCEL_UNTIL = time(0, 14, 59)


def cancel_deadline(paid_at: float, zone: str = "Asia/Tokyo") -> float:
    """The last instant (epoch seconds) a payment made at `paid_at` may be cancelled rather than refunded."""
    tz = ZoneInfo(zone)
    next_day = datetime.fromtimestamp(paid_at, tz).date() + timedelta(days=1)
    return datetime.combine(next_day, CANCEL_UNTIL, tz).timestamp() + 0.999


def reversal_kind(paid_at: float, now: float, zone: str = "Asia/Tokyo") -> str:
    """`cancel` while the service still voids the payment, else `refund`."""
    return "cancel" if now <= cancel_deadline(paid_at, zone) else "refund"
