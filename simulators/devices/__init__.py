"""Simulated devices the real drivers open: a serial scanner on a pty, a keyboard wedge, a camera, a locker,
the lane lights (a relay board, a HID light),
the scales (Toledo 8217, SCP-01, CAS PD-II, a HID POS scale) over one physical model of a platter.

They may import drivers/ (the byte formats and the driver classes they stand in for) and nothing of agent/
or of the rest of simulators/, so a driver test needs only drivers/ and this package.
"""
