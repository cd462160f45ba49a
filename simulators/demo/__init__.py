"""`omo-edge demo`: a whole OMO journey through the real agent on this machine, watched and checked at the end.

`run` (the command: a generated config, the agent unchanged, the journey, the check), `world` (everything
around the agent: the fake cloud, a pty scanner, an overhead camera, a locker), `script` (the journey as data:
who does what, through which real channel) and `screen` (waiting a bounded while for a browser on the
shopper's screen). Only `agent.commands.demo` imports this package, and only inside its handler.
It may import anything in agent/ and drivers/, the doubles and the device and cloud simulators; nothing else
in simulators/ imports it.
"""
