"""A power-loss file layer for tests: a FUSE passthrough that forgets, on a cut, every write no fsync covered
(journal: what a cut undoes; fs: the FUSE operations; daemon: the mounted process; mount: its control from a
test or the campaign). docs/testing-power-loss.md states what it models.

It imports no module of agent/, drivers/ or the rest of simulators/: it is a file system, whoever writes.
"""
