"""Simulated devices the real drivers open: a serial scanner on a pty, a keyboard wedge, a camera, a locker,
the lane lights (a relay board, a HID light).

They may import drivers/ (the byte formats and the driver classes they stand in for) and nothing of agent/
or of the rest of simulators/, so a driver test needs only drivers/ and this package.
"""
