"""The shopper's visit, one package per role: `pricing` (the pure money), `rules` (the pure visit logic) and
`records` (the lane.db tables), under the shell kept here: the scan pipeline, the controller (one lock, one
transaction per change), the checkout (payments), the pickup handover (online orders from a locker), staff
refunds and the offline policy read from the catalog.

The pure packages import no I/O library. The shell writes lane.db with the outbox row in the same
transaction and then tells the screen through a plain callable. It may import interpret, catalog, sync's
outbox, payment, the shared plumbing and the drivers' protocols (scan events, lockers); never the API (the
composition root wires the API to its events).
"""
