"""The bagging-area security scale: what goes into the bag is checked against what was scanned.

`settings.py` parses `[bagging]`; `rules.py` is the pure watch over the bag's weight (every disagreement is a
call with its weights); `learned.py` learns a product's weight from accepted visits; `calls.py` turns a call
into a change of the visit; `watcher.py` is the I/O shell that reads the scale and raises the calls through
the visit's port; `records.py` keeps the learned weights in lane.db; `components.py` builds it for app.py.

What it may import: the session's pure rules and its visit port, the catalog's lookups, the store and the
outbox (the learned weight's event), and the scale drivers (`drivers.scales`). The pure modules (rules,
learned, calls, settings) import no I/O (a contract in pyproject.toml); nothing here imports the API, and the
session never imports this package (app.py wires the controller's changes to the watcher).
"""
