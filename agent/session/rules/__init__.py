"""The pure visit logic: the state machine (`machine`) and one step of it on a visit (`state_step`), the visit
as a frozen value (`basket`) and its JSON (`codec`), what a step changes (`visit_change`), the change each kind
of scan makes (`scan_changes`), what a scan does (`scan_rules`), what a tap or staff do (`action_rules`), the
shopper's call for staff (`staff_call`), whether a tender may start (`tender`), pickup checks (`pickup_rules`),
what the catalog adds to a scan (`outcome`), and the visit priced by the engine with its screen view and sale
body (`totals`, `receipt`).

Every function takes values and returns values: no clock, no database, no network. It may import the
interpretation's meanings and tokens, the catalog's records and rates, the config sections, the payment
adapter's plain types and `agent.session.pricing`; never an I/O library, the session's records or its shell.
"""
