"""The session's tables in lane.db: the visit's row and a row per visit (`visits`), scans (`scans`), completed
sales (`sales`), the app tokens' replay cache (`seen_tokens`) and online-order pickup claims (`pickup_claims`).

Each module owns its migrations and writes its rows with their outbox event in the caller's transaction;
none of them opens a connection or decides anything. It may import the store, sync's outbox and disk guard,
the interpretation's token types and `agent.session.rules`; never the session's shell (pipeline, controller,
checkout, pickup_handover, refunds) nor an HTTP or MQTT library.
"""
