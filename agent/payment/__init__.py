"""Payment: the adapter protocol every wallet or payment service implements, and the adapters.

An adapter turns "charge this amount under this payment ID" into calls to one payment service and answers
with a `PaymentResult`; the session decides what to record. The payment ID is the idempotency key the
service sees, so asking again (after a timeout) queries, never charges twice. This package may import the
shared plumbing at `agent/` and httpx (for real adapters); never the session, the API, sqlite3 or paho.
"""
