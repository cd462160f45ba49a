"""Cloud sync: the outbox, the relay that drains it, the ack bookkeeping, the MQTT publisher, TLS, disk guard and
cloud commands.

`mqtt` is the only module in the project that imports paho. It may import the shared plumbing at `agent/`
(store, errors, clock, health, config_table, supervise); never the session, the catalog or the API.
"""
