"""Finding a device driver by name: the built-ins by module path (no package metadata read, so a lane starts
fast and a missing dist-info cannot hide them), then whatever installed distributions register under the
device kind's entry-point group. Lights, scales and printers share this; each keeps its own names and errors.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Generic, TypeVar, cast

from drivers.base import DriverOptionError

Factory = TypeVar("Factory", bound=Callable[..., object])


class Plugins(Generic[Factory]):
    """The drivers of one kind of device (`kind` names it in messages: "light", "scale", "printer")."""

    def __init__(self, kind: str, group: str, builtin: Mapping[str, str], unknown: type[LookupError]) -> None:
        self.kind, self.group, self.builtin, self.unknown = kind, group, dict(builtin), unknown

    def available(self) -> list[str]:
        """Names of every driver: the built-ins and those registered by installed packages."""
        return sorted(set(self.builtin) | {ep.name for ep in entry_points(group=self.group)})

    def load(self, name: str) -> Factory:
        """Import and return the factory registered as `name` (a built-in without reading any metadata)."""
        if name in self.builtin:
            module, _, attr = self.builtin[name].partition(":")
            return cast(Factory, getattr(importlib.import_module(module), attr))
        matches = [ep for ep in entry_points(group=self.group) if ep.name == name]
        if not matches:
            raise self.unknown(f"no {self.kind} driver named {name!r}. Fix: use one of {', '.join(self.available())}")
        return cast(Factory, matches[0].load())

    def build(self, driver: str, options: Mapping[str, object]) -> object:
        """The driver's object, built but not opened; a bad option is a DriverOptionError naming it."""
        factory = self.load(driver)
        try:
            return factory(options)
        except DriverOptionError:
            raise
        except (TypeError, ValueError) as exc:
            raise DriverOptionError("", f"the {driver} {self.kind} refused its options: {exc}") from exc
