"""The fleet simulator: many virtual lanes in one process (`omo-edge simulate fleet`)."""
