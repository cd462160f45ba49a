"""`python -m agent` is `omo-edge`."""

from agent.cli import main

raise SystemExit(main())
