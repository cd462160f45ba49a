"""The offline cache: catalog lines, snapshot loads and deltas, lookups, the pull from the cloud, its refresh.

Everything a sale needs (products, prices, promotions, members, coupons, pickup orders, trusted keys, the
offline policy) lives in a local SQLite generation swapped whole (docs/catalog.md). Only `pull` imports
httpx. It may import the shared plumbing at `agent/` (store, errors, clock, health, config_table) and
`agent.interpret` (GTIN checks); never the session, sync or the API.
"""
