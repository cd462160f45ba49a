"""The lane's side of the attendant station: the retained lane status, the station's signed commands applied
through the session's own rules, the replies, and the lane light (docs/architecture.md, "The attendant station,
lane side").

`wire` is what the lane and the station share (pure; the station imports it, and it imports nothing of agent/
but `agent.interpret.tokens`). `settings`, `status`, `checks` and `light_rule` are pure rules over the visit.
The shell: `link` (commands, applied once), `records` (their IDs in lane.db), `publisher` (the retained
status), `lights` (the light driver, loaded lazily) and `components` (built for app.py). The package may import
the session, the interpretation and the plumbing; never the API (the composition root wires the two).
"""
