"""Simulators of every device and of the cloud, so developers and CI run the whole agent without hardware."""
