"""Lanes the tests, trials and benches drive: the real agent, or one slice of it, set up and started for them.

`api` runs the whole agent in this process on its real HTTP server (the API fuzzing, the kiosk benches);
`sync` is one lane's sync stack (lane.db, Publisher, OutboxRelay) in this process; `writer` is a lane in
its own process that records and relays sales and scans (the kill -9 trials and the soak); `power` is the
deployed daemon with its state directory on the power-loss layer (the power-cut campaign). A lane here only
sets up and starts: what to check afterwards lives with the trials (simulators/trials/).
They may import anything in agent/ and drivers/ (they run the real code), the doubles, the device and cloud
simulators, the fixtures' builders and the power-loss layer; never the trials or the demo.
"""
