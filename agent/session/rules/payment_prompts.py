"""What the screen says while a payment is under way, and why a basket was released (pure constants).

Apart from the checkout so that the controller (which says "checking your payment" for a visit it finds
`paying` at start) and the metrics (which count releases by reason) name them without importing the checkout.
"""

from __future__ import annotations

from agent.session.rules.basket import Prompt

CHECKING = Prompt("checking_payment", "Checking your payment. Please wait.", "info")
SHOW_QR = Prompt("pay_by_qr", "Scan this code with your wallet app to pay.", "info")
CONFIRM = Prompt("confirm_in_app", "Please confirm the payment in your wallet app.", "info")
DECLINED = "The payment did not go through. Please try again or ask staff."
RELEASED = {
    "expired": "The payment code expired. Nothing was charged: your basket is kept. Tap Pay to try again.",
    "cancelled_by_shopper": "Payment cancelled. Nothing was charged: your basket is kept.",
    "never_sent": "The payment was not made. Nothing was charged: your basket is kept. Please pay again.",
    "unreachable": "The payment service could not be reached. Nothing was charged: your basket is kept. Please "
                   "try again, or ask a member of staff.",
    "not_found": "The payment did not go through. Nothing was charged: your basket is kept. Please pay again.",
    "unknown": "We could not confirm your payment, so it was cancelled and nothing is charged. Please pay again "
               "or ask a member of staff.",
}
