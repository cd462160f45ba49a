"""Simulators of every device and of the cloud, so developers and CI run the whole agent without hardware.

Grouped the way agent/ is, one kind per package: `doubles/` (fake time, an in-memory publisher, free ports,
probes of the API and the screen), `devices/` and `cloud/` (what the real drivers and the real sync talk to),
`lanes/` (the agent, or a slice of it, set up for a test, a trial or a bench), `trials/` (campaigns under
random faults and the checks they end with), `demo/` (`omo-edge demo`), `fleet/` (`omo-edge simulate
fleet`), `fixtures/` (pytest fixtures by area) and `powerloss/` (a FUSE layer that forgets unsynced writes).
The root keeps only the pytest plugin and `code_graph` (the tree's import graph, for a test and a bench).
Simulators may import agent/ and drivers/; nothing in agent/ imports them except the `demo` and `simulate`
commands (an import-linter contract in pyproject.toml).
"""
