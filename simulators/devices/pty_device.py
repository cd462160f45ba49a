"""A device node the real drivers can open: a pty in raw mode behind a stable symlink, unpluggable and replugable.

Unplugging closes the pty's master, so the driver's next read fails with EIO exactly as a USB-serial
adapter's does; replugging makes a new pty (a new /dev/pts/N, as the kernel would rename ttyACM0 to
ttyACM1) and points the same symlink at it, as udev does for /dev/serial/by-id/.
"""

from __future__ import annotations

import os
import pty
import tempfile
import termios
import tty
from pathlib import Path


class VirtualPtyDevice:
    """Owns the master side; `.path` is the stable symlink a driver is configured with."""

    def __init__(self, name: str = "sim", link_dir: str | os.PathLike[str] | None = None) -> None:
        self._tmp = None if link_dir else tempfile.TemporaryDirectory(prefix="omo-sim-")
        directory = Path(link_dir) if link_dir else Path(self._tmp.name)  # type: ignore[union-attr]
        self.path = str(directory / f"usb-omo_{name}-if00")
        self.master: int | None = None
        self.slave_path = ""
        self.replug()

    @property
    def plugged(self) -> bool:
        return self.master is not None

    def replug(self) -> None:
        """Plug the device in (again): a fresh pty behind the same symlink."""
        if self.master is not None:
            return
        master, slave = pty.openpty()
        tty.setraw(slave)                      # bytes pass unchanged: no echo, no CR/LF translation
        attrs = termios.tcgetattr(slave)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        self.slave_path = os.ttyname(slave)
        os.close(slave)
        os.set_blocking(master, True)
        self.master = master
        tmp_link = self.path + ".new"
        if os.path.lexists(tmp_link):
            os.unlink(tmp_link)
        os.symlink(self.slave_path, tmp_link)
        os.replace(tmp_link, self.path)       # atomic, as udev swaps a by-id link

    def unplug(self) -> None:
        """Pull the cable: the driver's reads fail with EIO, and the path disappears."""
        if self.master is None:
            return
        os.close(self.master)
        self.master = None
        if os.path.lexists(self.path):
            os.unlink(self.path)

    def write(self, data: bytes) -> None:
        if self.master is None:
            raise OSError("the virtual device is unplugged; call replug() first")
        view = memoryview(data)
        while view:
            view = view[os.write(self.master, view):]

    def drain_input(self) -> bytes:
        """What the driver wrote to the device (scanner commands), if anything; never blocks."""
        if self.master is None:
            return b""
        os.set_blocking(self.master, False)
        try:
            return os.read(self.master, 65536)
        except (BlockingIOError, OSError):
            return b""
        finally:
            os.set_blocking(self.master, True)

    def close(self) -> None:
        self.unplug()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> VirtualPtyDevice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
