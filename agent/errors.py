"""The agent's one exception tree; foreign errors are translated into it at the boundary that meets them.

    AgentError                 anything the agent itself refuses or cannot do
    ├── ConfigError            bad config or arguments: names the file, the key and the fix (exit 2)
    ├── StartupError           `run` cannot start (a busy port, an unwritable state_dir): cause and fix (exit 1)
    ├── StoreError             SQLite could not record or read state (disk full, I/O error, corruption)
    │   └── DiskFullError      the disk is (nearly) full; the lane stops taking sales until space returns
    ├── PublishError           MQTT publish refused or lost (carries the MQTT reason code)
    └── CloudError             HTTP to the cloud failed (carries the status, 0 for transport errors)

Domain refusals (an unknown item, a bad check digit) are values, never exceptions.
"""

from __future__ import annotations


class AgentError(Exception):
    """Base of every error the agent raises on purpose."""


class ConfigError(AgentError):
    """Config or arguments that cannot be used; the message names the file, the key and the fix."""

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None) -> None:
        self.path = path
        self.key = key
        where = ": ".join(part for part in (path, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class StartupError(AgentError):
    """The agent cannot start for a reason store IT can fix; printed as one line, never as a traceback."""

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None) -> None:
        where = ": ".join(part for part in (path, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class StoreError(AgentError):
    """SQLite state could not be written or read."""


class DiskFullError(StoreError):
    """The state disk is full or over its limit; nothing half-recorded is left behind."""


class PublishError(AgentError):
    """An MQTT publish was refused or lost; `reason_code` is the MQTT 5 reason (0 when unknown)."""

    def __init__(self, message: str, reason_code: int = 0) -> None:
        self.reason_code = reason_code
        super().__init__(message)


class PacketTooLarge(PublishError):
    """A publish over the broker's Maximum Packet Size: sent, it would only get the connection closed (0x95)."""


class CloudError(AgentError):
    """An HTTP exchange with the cloud failed; `status` is 0 for transport failures."""

    def __init__(self, message: str, status: int = 0) -> None:
        self.status = status
        super().__init__(message)
