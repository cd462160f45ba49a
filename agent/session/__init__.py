"""The shopper's visit: the state machine, basket, pricing, promotions, tax and interventions (pure), and the
recording layer (pipeline, scans, sales, sessions, the token replay cache in `seen_tokens`, online orders handed
over from a locker in `pickups`).

The pure modules import no I/O library. The recording modules write lane.db with the outbox row in the same
transaction and then tell the screen through a plain callable. It may import interpret, catalog, sync's
outbox, the shared plumbing and the drivers' protocols (scan events, lockers); never the API (the composition
root wires the API to its events).
"""
