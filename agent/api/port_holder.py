"""Which process listens on a TCP port, read from /proc, so a busy-port error can name it.

Best effort and Linux only: the answer is None when /proc does not say (another user's process under the
unit's ProtectProc=invisible, or no /proc at all); the error then names the port alone.
"""

from __future__ import annotations

import os
from pathlib import Path

LISTEN = "0A"


def listening_inodes(port: int, proc: Path = Path("/proc")) -> set[str]:
    """Socket inodes listening on `port`, on any address, IPv4 or IPv6."""
    inodes: set[str] = set()
    for table in ("net/tcp", "net/tcp6"):
        try:
            lines = (proc / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == LISTEN and int(fields[1].rpartition(":")[2], 16) == port:
                inodes.add(fields[9])
    return inodes


def port_holder(port: int, proc: Path = Path("/proc")) -> str | None:
    """"pid N (name)" of a process listening on `port`, or None when it cannot be told."""
    wanted = {f"socket:[{inode}]" for inode in listening_inodes(port, proc)}
    if not wanted:
        return None
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            links = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
        except OSError:
            continue
        if links & wanted:
            try:
                name = (entry / "comm").read_text().strip()
            except OSError:
                name = "?"
            return f"pid {entry.name} ({name})"
    return None
