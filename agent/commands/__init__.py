"""The command line: one module per subcommand family, each with `register(subparsers)` and a handler.

Part of the composition root, so it may import any package of agent/ and the simulators (`demo`,
`simulate`), but only inside the handlers: `omo-edge status` must start fast, so a module here imports
nothing heavy (aiohttp, httpx, the catalog) at its top.
"""

# Order is the order of `omo-edge --help`.
COMMAND_MODULES = (
    "agent.commands.run",
    "agent.commands.demo",
    "agent.commands.config",
    "agent.commands.status",
    "agent.commands.outbox",
    "agent.commands.catalog",
    "agent.commands.backup",
    "agent.commands.doctor",
    "agent.commands.simulate",
    "agent.commands.attendant",
)
