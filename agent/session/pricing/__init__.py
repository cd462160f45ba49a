"""The pure money of a visit: the one pricing engine (`engine`), its plain input and output values
(`engine_types`), member prices and catalog promotions (`promotions`) and exact money arithmetic (`money`).

Nothing here knows the visit: the engine takes plain frozen values, so the rules (`agent.session.rules`) may
use it and never the other way round. It may import the standard library and the catalog's canonical tax
rates (`agent.catalog.rates`); no I/O library, no other part of the session.
"""
