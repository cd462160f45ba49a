"""Simulated devices the real drivers open: a serial scanner on a pty, a keyboard wedge, a camera."""
