"""Typed reads of one device's options, refusing unknown keys so a typo fails `config check`, not a shift."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from drivers.base import DriverOptionError


class Options:
    """The `[[devices]]` keys other than name/driver; every refusal names the key and the fix."""

    def __init__(self, driver: str, options: Mapping[str, object]) -> None:
        self._driver = driver
        self._data = dict(options)
        self._used: set[str] = set()

    def _get(self, key: str, default: Any, kinds: tuple[type, ...], expected: str) -> Any:
        self._used.add(key)
        if key not in self._data:
            if default is _REQUIRED:
                raise DriverOptionError(key, f"the {self._driver} driver needs {key}. Fix: add {key} = ...")
            return default
        value = self._data[key]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise DriverOptionError(key, f"expected {expected}, got {value!r}. Fix: write {key} as {expected}")
        return value

    def text(self, key: str, default: Any = None) -> str:
        value: str = self._get(key, _REQUIRED if default is None else default, (str,), "a string")
        return value

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value: int = self._get(key, default, (int,), "an integer")
        if not low <= value <= high:
            raise DriverOptionError(key, f"{value} is out of range. Fix: use {low} to {high}")
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = float(self._get(key, default, (int, float), "a number"))
        if not low <= value <= high:
            raise DriverOptionError(key, f"{value} is out of range. Fix: use {low} to {high}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value: bool = self._get(key, default, (bool,), "true or false")
        return value

    def choice(self, key: str, default: str, choices: Iterable[str]) -> str:
        value = self.text(key, default)
        allowed = list(choices)
        if value not in allowed:
            raise DriverOptionError(key, f"{value!r} is not known. Fix: use one of {', '.join(allowed)}")
        return value

    def texts(self, key: str, default: list[str]) -> list[str]:
        value = self._get(key, default, (list, tuple), "a list of strings")
        if not all(isinstance(v, str) for v in value):
            raise DriverOptionError(key, f"expected a list of strings, got {value!r}. Fix: write [\"a\", \"b\"]")
        return list(value)

    def integers(self, key: str, default: list[int] | None, length: int) -> list[int] | None:
        value = self._get(key, default, (list, tuple, type(None)), f"a list of {length} integers")
        if value is None:
            return None
        if len(value) != length or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise DriverOptionError(key, f"expected {length} integers, got {value!r}. Fix: write [x, y, w, h]")
        return list(value)

    def raw(self, key: str, default: object) -> object:
        self._used.add(key)
        return self._data.get(key, default)

    def finish(self) -> None:
        """Refuse keys nobody read: they are typos or belong to another driver."""
        unknown = sorted(set(self._data) - self._used)
        if unknown:
            known = ", ".join(sorted(self._used))
            raise DriverOptionError(unknown[0], f"the {self._driver} driver has no option {unknown[0]!r}. "
                                                f"Fix: remove it or use one of {known}")


class _RequiredType:
    pass


_REQUIRED: Any = _RequiredType()
