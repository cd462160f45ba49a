"""The bagging-area security scale: what goes into the bag is checked against what was scanned.

`settings.py` parses `[bagging]`; `rules.py` is the pure watch over the bag's weight (every disagreement is a
call with its weights); `learned.py` learns a product's weight from accepted visits; `watcher.py` is the I/O
shell that reads the scale and raises the calls on the lane's visit.
"""
