"""`omo-edge doctor` on a prepared /dev,/sys,/proc tree, and `omo-edge simulate scanner` driven like a person would."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.detect import Roots, everything
from drivers.lights import Signal, open_light
from drivers.scales import open_scale
from drivers.serial import SerialScanner
from simulators.devices.serial_pty import VirtualSerialScanner

PROC_INPUT = """I: Bus=0003 Vendor=0c2e Product=0b61 Version=0111
N: Name="Honeywell Imaging & Mobility 1900"
H: Handlers=sysrq kbd leds event5

I: Bus=0003 Vendor=046d Product=c31c Version=0110
N: Name="Logitech USB Keyboard"
H: Handlers=sysrq kbd leds event3

I: Bus=0019 Vendor=0000 Product=0001 Version=0000
N: Name="Power Button"
H: Handlers=event0
"""


def test_doctor_lists_a_serial_port_by_its_stable_path_a_wedge_and_a_camera(tmp_path: Path) -> None:
    dev, proc = tmp_path / "dev", tmp_path / "proc"
    (dev / "serial" / "by-id").mkdir(parents=True)
    (dev / "input" / "by-id").mkdir(parents=True)
    (proc / "bus" / "input").mkdir(parents=True)
    (proc / "bus" / "input" / "devices").write_text(PROC_INPUT)
    with VirtualSerialScanner(link_dir=dev / "serial" / "by-id") as sim:
        (dev / "input" / "event5").touch(mode=0o000)
        (dev / "video0").touch()
        found = everything(Roots(dev=dev, sys=tmp_path / "sys", proc=proc))
    kinds = {(f.kind, f.path, f.likely_scanner, f.readable) for f in found}
    assert ("serial", sim.path, True, True) in kinds
    assert ("hid", str(dev / "input" / "event5"), True, os.geteuid() == 0) in kinds
    assert ("hid", str(dev / "input" / "event3"), False, False) in kinds   # a keyboard, not flagged
    assert ("camera", str(dev / "video0"), True, True) in kinds
    serial = next(f for f in found if f.kind == "serial")
    assert f'port = "{sim.path}"' in serial.snippet("handheld")


def test_doctor_runs_on_this_machine_and_exits_zero() -> None:
    done = subprocess.run([sys.executable, "-m", "agent", "doctor"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "Serial ports:" in done.stdout and "Cameras:" in done.stdout


async def test_simulate_scanner_prints_a_path_the_serial_driver_reads_typed_codes_from() -> None:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "agent", "simulate", "scanner", "--aim", "]E0",
                                                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        async with asyncio.timeout(20):
            first = (await proc.stdout.readline()).decode()
            path = first.split(" at ", 1)[1].split(" (", 1)[0]
            async with SerialScanner("handheld", {"port": path}) as scanner:
                proc.stdin.write(b"4006381333931\n")
                await proc.stdin.drain()
                event = await anext(aiter(scanner.scans()))
    finally:
        proc.stdin.close()
        async with asyncio.timeout(10):
            await proc.wait()
    assert (event.text, event.aim, event.symbology) == ("4006381333931", "]E0", "ean13")


async def test_simulate_light_prints_a_path_the_relay_driver_drives_and_the_colours_as_they_change() -> None:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "agent", "simulate", "light",
                                                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        async with asyncio.timeout(20):
            first = (await proc.stdout.readline()).decode()
            path = first.split(" at ", 1)[1].split(" (", 1)[0]
            config = (await proc.stdout.readline()).decode()
            await proc.stdout.readline()
            async with open_light("relay_serial", {"port": path}) as light:
                await light.show(Signal.RED)
                changes = [(await proc.stdout.readline()).decode().split(" s  ", 1)[1].strip()]
    finally:
        proc.stdin.close()
        async with asyncio.timeout(10):
            await proc.wait()
    assert f'driver = "relay_serial", port = "{path}"' in config
    assert changes == ["red"]


def test_doctor_lists_a_delcom_light_and_notes_a_ch340_serial_port_as_a_possible_relay_board(tmp_path: Path) -> None:
    dev, sys_root = tmp_path / "dev", tmp_path / "sys"
    dev.mkdir()
    (dev / "hidraw2").touch()
    (dev / "ttyUSB0").touch()
    light = sys_root / "devices" / "usb1" / "1-2" / "0003:0FC5:B080.0004"
    light.mkdir(parents=True)
    (light / "uevent").write_text("HID_ID=0003:00000FC5:0000B080\nHID_NAME=Delcom Products Inc. USB FS IO\n")
    keyboard = sys_root / "devices" / "usb1" / "1-3" / "0003:046D:C31C.0005"
    keyboard.mkdir(parents=True)
    (keyboard / "uevent").write_text("HID_ID=0003:0000046D:0000C31C\nHID_NAME=Logitech USB Keyboard\n")
    for node, target in (("hidraw2", light), ("hidraw3", keyboard)):
        (sys_root / "class" / "hidraw" / node).mkdir(parents=True)
        (sys_root / "class" / "hidraw" / node / "device").symlink_to(target)
    board = sys_root / "devices" / "usb1" / "1-4"
    (board / "1-4:1.0" / "ttyUSB0").mkdir(parents=True)
    (board / "idVendor").write_text("1a86\n")
    (board / "idProduct").write_text("7523\n")
    (sys_root / "class" / "tty" / "ttyUSB0").mkdir(parents=True)
    (sys_root / "class" / "tty" / "ttyUSB0" / "device").symlink_to(board / "1-4:1.0" / "ttyUSB0")
    found = everything(Roots(dev=dev, sys=sys_root, proc=tmp_path / "proc"))
    lights = [f for f in found if f.kind == "light"]
    assert [(f.path, f.description) for f in lights] == [(str(dev / "hidraw2"), "Delcom Products Inc. USB FS IO")]
    assert f'light = {{ driver = "hid_light", path = "{dev / "hidraw2"}" }}' in lights[0].snippet("light0")
    serial = next(f for f in found if f.kind == "serial")
    assert any('driver = "relay_serial"' in note for note in serial.notes)


# The first bytes of two report descriptors: a HID POS scale (usage page 0x8D) and a keyboard (pages 1 and 7).
SCALE_DESCRIPTOR = bytes.fromhex("05 8D 09 01 A1 01 85 03 09 30 15 00 25 FF 75 08 95 05 81 02 C0")
KEYBOARD_DESCRIPTOR = bytes.fromhex("05 01 09 06 A1 01 05 07 19 E0 29 E7 15 00 25 01 75 01 95 08 81 02 C0")


def test_doctor_lists_a_hid_scale_by_its_usage_page_and_notes_an_rs232_adapter_for_serial_scales(
        tmp_path: Path) -> None:
    dev, sys_root = tmp_path / "dev", tmp_path / "sys"
    dev.mkdir()
    for name in ("hidraw4", "hidraw5", "ttyUSB1"):
        (dev / name).touch()
    for node, descriptor, name in (("hidraw4", SCALE_DESCRIPTOR, "DYMO M10 Digital Postal Scale"),
                                   ("hidraw5", KEYBOARD_DESCRIPTOR, "Logitech USB Keyboard")):
        device = sys_root / "devices" / node
        device.mkdir(parents=True)
        (device / "report_descriptor").write_bytes(descriptor)
        (device / "uevent").write_text(f"HID_NAME={name}\n")
        (sys_root / "class" / "hidraw" / node).mkdir(parents=True)
        (sys_root / "class" / "hidraw" / node / "device").symlink_to(device)
    adapter = sys_root / "devices" / "usb1" / "1-5"
    (adapter / "1-5:1.0" / "ttyUSB1").mkdir(parents=True)
    (adapter / "idVendor").write_text("0403\n")
    (adapter / "idProduct").write_text("6001\n")
    (sys_root / "class" / "tty" / "ttyUSB1").mkdir(parents=True)
    (sys_root / "class" / "tty" / "ttyUSB1" / "device").symlink_to(adapter / "1-5:1.0" / "ttyUSB1")
    found = everything(Roots(dev=dev, sys=sys_root, proc=tmp_path / "proc"))
    scales = [f for f in found if f.kind == "scale"]
    assert [(f.path, f.description) for f in scales] == [(str(dev / "hidraw4"), "DYMO M10 Digital Postal Scale")]
    assert f'{{ driver = "hid_scale", path = "{dev / "hidraw4"}" }}' in scales[0].snippet("scale0")
    serial = next(f for f in found if f.kind == "serial")
    assert any("FTDI" in note and '"scp01"' in note for note in serial.notes), serial.notes


async def test_simulate_scale_prints_a_path_the_driver_reads_and_moves_items_typed_on_stdin() -> None:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "agent", "simulate", "scale",
                                                "--protocol", "cas", stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        async with asyncio.timeout(20):
            first = (await proc.stdout.readline()).decode()
            path = first.split(" at ", 1)[1].split(" (", 1)[0]
            config = (await proc.stdout.readline()).decode()
            await proc.stdout.readline()
            async with open_scale("cas_pd2", {"port": path}) as scale:
                empty = await scale.read_stable(3)
                proc.stdin.write(b"place 350\n")
                await proc.stdin.drain()
                echo = (await proc.stdout.readline()).decode()
                await asyncio.sleep(0.1)
                placed = await scale.read_stable(3)
    finally:
        proc.stdin.close()
        async with asyncio.timeout(10):
            await proc.wait()
    assert f'driver = "cas_pd2", port = "{path}"' in config
    assert echo.startswith("now ") and (empty.weight_mg, placed.weight_mg) == (0, 350_000)


def test_doctor_lists_a_usb_receipt_printer_by_its_interface_class_or_maker(tmp_path: Path) -> None:
    dev, sys_root = tmp_path / "dev", tmp_path / "sys"
    usb = sys_root / "bus" / "usb" / "devices"
    for name, vendor, product, klass, maker in (("1-6", "04b8", "0e15", "07", "EPSON"),
                                                ("1-7", "0519", "0003", "ff", ""),
                                                ("1-8", "046d", "c31c", "03", "Logitech")):
        device = usb / name
        (device / f"{name}:1.0").mkdir(parents=True)
        (device / f"{name}:1.0" / "bInterfaceClass").write_text(f"{klass}\n")
        for attr, value in (("idVendor", vendor), ("idProduct", product), ("busnum", "1"),
                            ("devnum", name[-1]), ("manufacturer", maker)):
            (device / attr).write_text(f"{value}\n")
    found = everything(Roots(dev=dev, sys=sys_root, proc=tmp_path / "proc"))
    printers = [f for f in found if f.kind == "printer"]
    assert [(f.path, f.node) for f in printers] == [("04b8:0e15", str(dev / "bus" / "usb" / "001" / "006")),
                                                    ("0519:0003", str(dev / "bus" / "usb" / "001" / "007"))]
    assert printers[0].description == "EPSON" and not printers[0].notes
    assert printers[1].description == "Star Micronics" and "without a printer interface" in printers[1].notes[0]
    assert 'driver = "escpos_usb", vendor_id = "04b8", product_id = "0e15"' in printers[0].snippet("printer0")


async def test_simulate_printer_prints_a_config_the_driver_opens_and_each_receipt_as_it_is_cut(tmp_path: Path) -> None:
    from drivers.escpos_text import kanji_bytes
    from drivers.printers import PrintFailed, open_printer

    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "agent", "simulate", "printer", "--network",
                                                "--png-dir", str(tmp_path), stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        async with asyncio.timeout(20):
            await proc.stdout.readline()
            config = (await proc.stdout.readline()).decode()
            port = int(config.split("port = ", 1)[1].split(" ", 1)[0])
            await proc.stdout.readline()
            async with open_printer("escpos_network", {"host": "127.0.0.1", "port": port}) as printer:
                await printer.send(kanji_bytes("鮭おにぎり", printer.profile) + b"\n\x1dV\x00")
                lines = [(await proc.stdout.readline()).decode() for _ in range(3)]
                assert lines[0].startswith("--- receipt cut") and lines[1].strip() == "鮭おにぎり"
                assert os.path.isfile(lines[2].split("png: ", 1)[1].strip())  # noqa: ASYNC240 - one stat
                proc.stdin.write(b"cover-open\n")
                assert "cover open" in (await proc.stdout.readline()).decode()
                with pytest.raises(PrintFailed):
                    await printer.send(b"x\n")
    finally:
        proc.stdin.close()
        await proc.wait()
