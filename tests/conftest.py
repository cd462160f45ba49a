"""The simulators' fixtures come from the installed pytest plugin (entry point pytest11 `omo_edge`)."""
