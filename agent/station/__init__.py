"""The attendant station (`omo-edge attendant`): one store-level service that shows every lane's status to the
staff on a tablet page and sends their signed decisions to the lanes over the store broker.

Pure rules (the board of lanes, sessions and roles) are kept apart from I/O (the MQTT link, the HTTPS server).
It imports from agent/ only the shared wire contract (`agent.attendant.wire`), token verification
(`agent.interpret.tokens`) and the plumbing (`agent.config_table`, `agent.errors`, `agent.log`): never the
session or sync internals, since it runs where no lane runs (an import-linter contract checks this).
"""
