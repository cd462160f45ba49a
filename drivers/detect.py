"""Probe this machine for serial ports, scanner-like input devices, cameras, lane lights, scales and receipt
printers, for `omo-edge doctor`.

Probing is a tool, not startup: the agent opens only what its config names. Everything here reads /dev,
/sys and /proc (roots are parameters so tests can point them at a prepared tree) and never opens a device
for reading, so running doctor next to a live agent is harmless.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

# USB IDs of lane lights: Delcom's HID visual indicators (driver hid_light), and the CH340 serial chip of the
# LCUS relay boards (driver relay_serial; the chip is also on other adapters, so a serial port only gets a note).
DELCOM_HID_ID = "0003:00000FC5:0000B080"
CH340 = ("1a86", "7523")
RELAY_NOTE = 'a CH340 adapter, as on LCUS relay boards: for a lane light, [attendant] light = {{ driver = ' \
             '"relay_serial", port = "{path}" }}'

# Scales. A USB HID POS scale is known by its report descriptor (usage page 0x8D, "Scale"), whatever its maker.
# A serial scale is an RS-232 scale behind a USB adapter, and the adapter's ID says nothing of what is behind it:
# ports on the usual RS-232 adapter chips (FTDI FT232R, Prolific PL2303) get a note naming the scale drivers.
SCALE_USAGE_PAGE = 0x8D
RS232_ADAPTERS = {("0403", "6001"): "an FTDI FT232R", ("067b", "2303"): "a Prolific PL2303"}
SCALE_NOTE = '{chip} RS-232 adapter, as serial scales use: for a scale, {{ driver = "toledo8217" | "scp01" | ' \
             '"cas_pd2", port = "{path}" }}'

# Receipt printers on USB: a printer-class interface (07), or any USB device of a receipt printer maker
# (drivers.printers.VENDORS: Epson, Star, Citizen, Bixolon ...; some models are vendor-specific class ff).
PRINTER_CLASS = "07"

# Words in the names of keyboard-wedge scanners as they enumerate (vendors and generic descriptors).
SCANNER_WORDS = re.compile(r"scan|barcode|bar code|honeywell|hand held|metrologic|zebra|\bsymbol\b|datalogic|"
                           r"newland|opticon|zebex|code corp|socket mobile|unitech|sunmi|netum|\btera\b|eyoyo",
                           re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Roots:
    dev: Path = Path("/dev")
    sys: Path = Path("/sys")
    proc: Path = Path("/proc")


@dataclass(frozen=True, slots=True)
class Found:
    kind: str                  # "serial" | "hid" | "camera" | "light" | "scale" | "printer"
    path: str                  # the stable path to configure (by-id when there is one)
    node: str                  # the kernel node it points at now
    description: str
    readable: bool             # whether this process (run doctor as the service user) may open it
    likely_scanner: bool = True
    notes: list[str] = field(default_factory=list)

    def snippet(self, name: str) -> str:
        """The [[devices]] table to paste into agent.toml (for a light, its [attendant] key)."""
        if self.kind == "light":
            return f'[attendant]\nlight = {{ driver = "hid_light", path = "{self.path}" }}\n'
        if self.kind == "printer":
            vendor, _, product = self.path.partition(":")
            return (f'# a printer (open_printer); the profile is a name in drivers.printers.PROFILES\n'
                    f'printer = {{ driver = "escpos_usb", vendor_id = "{vendor}", product_id = "{product}", '
                    f'profile = "tm-t20" }}\n')
        if self.kind == "scale":
            return f'# scale options (open_scale)\n{{ driver = "hid_scale", path = "{self.path}" }}\n'
        key, extra = {"serial": ("port", 'baudrate = 9600\nterminator = "cr"'),
                      "hid": ("path", 'layout = "us"'),
                      "camera": ("source", 'decoder = "auto"')}[self.kind]
        return f'[[devices]]\nname = "{name}"\ndriver = "{self.kind}"\n{key} = "{self.path}"\n{extra}\n'


def _access(node: str, write: bool = False) -> bool:
    return os.access(node, os.R_OK | (os.W_OK if write else 0))


def _by_id(directory: Path) -> dict[str, str]:
    """Kernel node -> stable by-id path, from the udev symlinks."""
    links: dict[str, str] = {}
    if directory.is_dir():
        for link in sorted(directory.iterdir()):
            links.setdefault(os.path.realpath(link), str(link))
    return links


def serial_ports(roots: Roots = Roots()) -> list[Found]:
    """USB-serial and USB-CDC ports (ttyACM*, ttyUSB*) and anything with a /dev/serial/by-id link."""
    stable = _by_id(roots.dev / "serial" / "by-id")
    nodes = {str(p) for pattern in ("ttyACM*", "ttyUSB*") for p in roots.dev.glob(pattern)} | set(stable)
    found = []
    for node in sorted(nodes):
        name = Path(node).name
        device = roots.sys / "class" / "tty" / name / "device"
        product = _read(device / ".." / "product")
        notes = [] if node in stable else ["no by-id link: the name may change on replug"]
        usb = device / ".." / ".."
        usb_id = (_read(usb / "idVendor").strip(), _read(usb / "idProduct").strip())
        if usb_id == CH340:
            notes.append(RELAY_NOTE.format(path=stable.get(node, node)))
        if usb_id in RS232_ADAPTERS:
            notes.append(SCALE_NOTE.format(chip=RS232_ADAPTERS[usb_id], path=stable.get(node, node)))
        found.append(Found("serial", stable.get(node, node), node, product or name, _access(node, write=True),
                           notes=notes))
    return found


def input_devices(roots: Roots = Roots()) -> list[Found]:
    """Keyboard-like input devices from /proc/bus/input/devices; scanners flagged by name."""
    stable = _by_id(roots.dev / "input" / "by-id")
    found = []
    for block in _read(roots.proc / "bus" / "input" / "devices").split("\n\n"):
        name = re.search(r'^N: Name="(.*)"$', block, re.MULTILINE)
        handlers = re.search(r"^H: Handlers=(.*)$", block, re.MULTILINE)
        if not name or not handlers or "kbd" not in handlers.group(1).split():
            continue
        event = next((h for h in handlers.group(1).split() if h.startswith("event")), None)
        if event is None:
            continue
        node = str(roots.dev / "input" / event)
        found.append(Found("hid", stable.get(node, node), node, name.group(1), _access(node),
                           likely_scanner=bool(SCANNER_WORDS.search(name.group(1)))))
    return found


def cameras(roots: Roots = Roots()) -> list[Found]:
    """V4L2 capture nodes (index 0 of each device; the others are metadata nodes)."""
    stable = _by_id(roots.dev / "v4l" / "by-id")
    found = []
    for node in sorted(roots.dev.glob("video*"), key=lambda p: (len(p.name), p.name)):
        sysdir = roots.sys / "class" / "video4linux" / node.name
        if _read(sysdir / "index").strip() not in ("", "0"):
            continue
        found.append(Found("camera", stable.get(str(node), str(node)), str(node),
                           _read(sysdir / "name").strip() or node.name, _access(str(node), write=True)))
    return found


def hid_lights(roots: Roots = Roots()) -> list[Found]:
    """Delcom HID visual indicators, by the USB ID of each hidraw node's device."""
    found = []
    for sysdir in sorted((roots.sys / "class" / "hidraw").glob("hidraw*")):
        uevent = dict(line.partition("=")[::2] for line in _read(sysdir / "device" / "uevent").splitlines())
        if uevent.get("HID_ID", "").upper() != DELCOM_HID_ID.upper():
            continue
        node = str(roots.dev / sysdir.name)
        found.append(Found("light", node, node, uevent.get("HID_NAME") or "Delcom visual indicator",
                           _access(node, write=True),
                           notes=["hidraw numbers change on replug: a udev rule can give it a stable name"]))
    return found


def has_usage_page(descriptor: bytes, page: int) -> bool:
    """Whether a HID report descriptor declares `page` in a Usage Page item (short items; long ones skipped)."""
    i = 0
    while i < len(descriptor):
        prefix = descriptor[i]
        if prefix == 0xFE:                                   # a long item: size in the next byte
            i += 3 + (descriptor[i + 1] if i + 1 < len(descriptor) else 0)
            continue
        size = (0, 1, 2, 4)[prefix & 0x03]
        if prefix & 0xFC == 0x04 and int.from_bytes(descriptor[i + 1:i + 1 + size], "little") == page:
            return True
        i += 1 + size
    return False


def hid_scales(roots: Roots = Roots()) -> list[Found]:
    """HID POS scales: hidraw nodes whose report descriptor (readable in sysfs) has usage page 0x8D."""
    found = []
    for sysdir in sorted((roots.sys / "class" / "hidraw").glob("hidraw*")):
        try:
            descriptor = (sysdir / "device" / "report_descriptor").read_bytes()
        except OSError:
            continue                                          # not readable here: nothing to tell
        if not has_usage_page(descriptor, SCALE_USAGE_PAGE):
            continue
        uevent = dict(line.partition("=")[::2] for line in _read(sysdir / "device" / "uevent").splitlines())
        node = str(roots.dev / sysdir.name)
        found.append(Found("scale", node, node, uevent.get("HID_NAME") or "USB HID scale", _access(node),
                           notes=["hidraw numbers change on replug: a udev rule can give it a stable name"]))
    return found


def usb_printers(roots: Roots = Roots()) -> list[Found]:
    """USB receipt printers, by interface class or maker; `path` is vendor:product (what escpos_usb is given),
    `node` the /dev/bus/usb node pyusb opens (its access is what the service needs)."""
    from drivers.printers import VENDORS

    found = []
    for sysdir in sorted((roots.sys / "bus" / "usb" / "devices").glob("[0-9]*-*")):
        if ":" in sysdir.name:
            continue                                          # an interface, not a device
        vendor, product = _read(sysdir / "idVendor").strip(), _read(sysdir / "idProduct").strip()
        classes = {_read(i / "bInterfaceClass").strip() for i in sysdir.glob(f"{sysdir.name}:*")}
        if not vendor or (PRINTER_CLASS not in classes and vendor not in VENDORS):
            continue
        bus, number = _read(sysdir / "busnum").strip(), _read(sysdir / "devnum").strip()
        node = str(roots.dev / "bus" / "usb" / f"{int(bus or 0):03d}" / f"{int(number or 0):03d}")
        maker = VENDORS.get(vendor, "")
        name = " ".join(x for x in (_read(sysdir / "manufacturer").strip() or maker,
                                    _read(sysdir / "product").strip()) if x) or "USB printer"
        notes = [] if PRINTER_CLASS in classes else [f"a {maker} device without a printer interface: check it is "
                                                     "the printer (lsusb -v)"]
        found.append(Found("printer", f"{vendor}:{product}", node, name, _access(node, write=True), notes=notes))
    return found


def everything(roots: Roots = Roots()) -> list[Found]:
    return (serial_ports(roots) + input_devices(roots) + cameras(roots) + hid_lights(roots) + hid_scales(roots)
            + usb_printers(roots))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
