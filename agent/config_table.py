"""Typed reads from one TOML table, remembering which keys were used so that unknown keys can be refused."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.errors import ConfigError


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


def credential_path(value: str) -> Path:
    """A bare name means a systemd credential; anything with a slash is a path."""
    if "/" not in value and os.environ.get("CREDENTIALS_DIRECTORY"):
        return Path(os.environ["CREDENTIALS_DIRECTORY"]) / value
    return Path(value)


class Table:
    """One section of the config being read; every refusal carries file, section, key and fix."""

    def __init__(self, data: Mapping[str, Any], label: str, path: str, *, used: frozenset[str] = frozenset()) -> None:
        self._data = data
        self._used: set[str] = set(used)
        self.label = label
        self.file = path

    def relabelled(self, label: str) -> Table:
        """The same section, keys read so far included, named `label` in its errors (a [[devices]] table is
        "devices #2" until its name is read, then "device 'handheld'")."""
        return Table(self._data, label, self.file, used=frozenset(self._used))

    @classmethod
    def of(cls, document: Mapping[str, Any], name: str, path: str, *, required: bool = False) -> Table:
        if name not in document:
            if required:
                raise ConfigError(f"section [{name}] is missing. Fix: add it (see config/agent.example.toml)",
                                  path=path)
            return cls({}, name, path)
        value = document[name]
        if not isinstance(value, dict):
            raise ConfigError(f"[{name}] must be a table. Fix: write it as a [{name}] section", path=path)
        return cls(value, name, path)

    def error(self, key: str, problem: str, fix: str) -> ConfigError:
        return ConfigError(f"{problem}. Fix: {fix}", path=self.file, key=f"[{self.label}] {key}")

    def _get(self, key: str, default: Any, kind: type | tuple[type, ...], expected: str) -> Any:
        self._used.add(key)
        if key not in self._data:
            if default is REQUIRED:
                raise self.error(key, "is required", f"add {key} = ... to [{self.label}]")
            return default
        value = self._data[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.error(key, f"expected {expected}, got {type(value).__name__} {value!r}",
                             f"write {key} as {expected}")
        return value

    def string(self, key: str, default: Any = REQUIRED, *, pattern: str | None = None, fix: str | None = None) -> str:
        value: str = self._get(key, default, str, "a string")
        if pattern is not None and key in self._data and not re.fullmatch(pattern, value):
            raise self.error(key, f"{value!r} is not allowed", fix or f"use a value matching {pattern}")
        if default is REQUIRED and not value.strip():
            raise self.error(key, "is empty", f"give {key} a value")
        return value

    def has(self, key: str) -> bool:
        """Whether the file sets `key` (for options whose absence means "the built-in defaults")."""
        return key in self._data

    def optional_str(self, key: str) -> str | None:
        value: str | None = self._get(key, None, str, "a string")
        return value

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.string(key, default)
        if value not in choices:
            raise self.error(key, f"{value!r} is not one of {', '.join(choices)}",
                             f"use one of: {', '.join(repr(c) for c in choices)}")
        return value

    def integer(self, key: str, default: Any, low: int, high: int) -> int:
        value: int = self._get(key, default, int, "an integer")
        if not low <= value <= high:
            raise self.error(key, f"{value} is out of range", f"use an integer from {low} to {high}")
        return value

    def number(self, key: str, default: Any) -> float:
        value = self._get(key, default, (int, float), "a number")
        if isinstance(value, bool):
            raise self.error(key, f"expected a number, got {value!r}", f"write {key} as a number")
        return float(value)

    def table(self, key: str) -> dict[str, Any]:
        """An inline table of free keys (checked by the caller), such as `tier_multipliers = { gold = "2" }`."""
        return dict(self._get(key, {}, dict, "an inline table { name = value, ... }"))

    def boolean(self, key: str, default: Any) -> bool:
        value: bool = self._get(key, default, bool, "true or false")
        return value

    def path(self, key: str, default: Any = REQUIRED) -> Path:
        value = self._get(key, default, (str, Path), "a path string")
        return Path(value)

    def readable_file(self, key: str) -> Path | None:
        value: str | None = self._get(key, None, str, "a path string")
        if value is None:
            return None
        return self._readable(key, credential_path(value))

    def _readable(self, key: str, path: Path) -> Path:
        if not path.is_file() or not os.access(path, os.R_OK):
            raise self.error(key, f"{path} does not exist or cannot be read",
                             "check the path and give the service user read access")
        return path

    def readable_files(self, key: str) -> tuple[Path, ...]:
        values: list[Any] = self._get(key, [], list, "a list of path strings")
        paths = []
        for value in values:
            if not isinstance(value, str):
                raise self.error(key, f"expected path strings, got {value!r}", f"write {key} = [\"/path\", ...]")
            paths.append(self._readable(key, Path(value)))
        return tuple(paths)

    def secret_file(self, key: str) -> Path | None:
        value: str | None = self._get(key, None, str, "a path string")
        if value is None:
            return None
        if "/" not in value and not os.environ.get("CREDENTIALS_DIRECTORY"):
            raise self.error(key, f"{value!r} names a systemd credential, but $CREDENTIALS_DIRECTORY is not set "
                             "(systemd sets it only for the service)",
                             "run the command as /usr/local/bin/omo-edge (install.sh's wrapper sets it), or "
                             "export CREDENTIALS_DIRECTORY=/etc/omo-edge/credentials, or give a path")
        path = credential_path(value)
        problem = secret_file_problem(path)
        if problem == "does not exist" and "/" in value:
            raise self.error(key, f"secret file {path} does not exist",
                             f"put the secret in /etc/omo-edge/credentials/{path.name} (root, 0600) and name it bare "
                             f"({key} = \"{path.name}\"): the unit hands it to the service with LoadCredential=")
        if problem == "is readable by every user on this machine":
            raise self.error(key, f"secret file {path} {problem}",
                             f"chmod 600 {path} (owner: the service user), or load it with LoadCredential=")
        if problem is not None:
            raise self.error(key, f"secret file {path} {problem}",
                             "check the path and give the service user read access")
        return path

    def rest(self) -> dict[str, Any]:
        """The keys not read yet (a driver's own options); they count as used."""
        remaining = {k: v for k, v in self._data.items() if k not in self._used}
        self._used.update(remaining)
        return remaining

    def finish(self) -> None:
        unknown = sorted(set(self._data) - self._used)
        if unknown:
            known = ", ".join(sorted(self._used)) or "none"
            raise self.error(unknown[0], "unknown option", f"remove it or check the spelling (known: {known})")


def secret_file_problem(path: Path) -> str | None:
    """Why a secret file cannot be used, or None."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "does not exist"
    except PermissionError:
        return "cannot be read by this user"
    if not stat.S_ISREG(mode):
        return "is not a regular file"
    if mode & stat.S_IROTH:
        return "is readable by every user on this machine"
    if not os.access(path, os.R_OK):
        return "cannot be read by this user"
    return None
