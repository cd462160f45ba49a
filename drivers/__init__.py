"""Scanner and camera drivers; only the base types are re-exported (no hardware library is imported here)."""

from drivers.base import (
    DeviceUnavailable,
    DriverError,
    DriverOptionError,
    ScanEvent,
    ScannerDriver,
    UnavailableReason,
)

__all__ = ["DeviceUnavailable", "DriverError", "DriverOptionError", "ScanEvent", "ScannerDriver",
           "UnavailableReason"]
