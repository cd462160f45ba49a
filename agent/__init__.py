"""omo-edge: the in-store edge agent for unmanned self-checkout registers."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("omo-edge")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
