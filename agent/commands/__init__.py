"""One module per CLI subcommand family; each has `register(subparsers)` and imports heavy things lazily."""

# Order is the order of `omo-edge --help`.
COMMAND_MODULES = (
    "agent.commands.run",
    "agent.commands.demo",
    "agent.commands.config",
    "agent.commands.status",
    "agent.commands.outbox",
    "agent.commands.catalog",
    "agent.commands.doctor",
    "agent.commands.simulate",
)
