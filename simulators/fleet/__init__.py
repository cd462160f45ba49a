"""The fleet simulator: many virtual lanes in one process (`omo-edge simulate fleet`).

It may import agent/ (the lanes run the agent's own sync code) and the cloud simulators; nothing else in
simulators/. Only `agent.commands.simulate`, bench/fleet.py and the tests import it.
"""
