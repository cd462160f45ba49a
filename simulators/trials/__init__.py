"""Trial campaigns and the checks they end with: many runs of a lane under a fault chosen at random, then proof
that nothing was lost, doubled or leaked.

`kill9` (a lane process killed at random instants), `power` (power cuts on the power-loss layer), `payment`
(a visit paid while the payment service or the lane fails), `api_fuzz` (schemathesis against
docs/openapi.yaml); `sync_checks` (a stream of sales and scans, and the final check against the ingest) and
`secret_sweep` (given secrets looked for in every place a lane could leave them). The tests run each campaign
bounded, bench/soak_*.py run them long.
They may import anything in agent/ and drivers/, the lanes, the doubles, the device and cloud simulators and
the fixtures' builders; never the demo.
"""
