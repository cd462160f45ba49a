"""The card-data sweep: look for given secrets in every place a lane could leave them, byte by byte.

Why one helper: "the wallet code is in no log, no byte of lane.db or its WAL, nothing sent over MQTT" is a
promise every journey that handles a secret must check, and each test grepping in its own way checked a
different subset (one read the WAL, another not the log, a third not the screen's events). A journey test
names its secrets (a wallet code, a PAN-like digit run, a token's signature) and where it ran; the sweep
reads the database files raw (free pages and the WAL hold what a row no longer shows), the log text, and
every payload captured (MQTT, the outbox, the screen's WebSocket events), and names each place a secret is.

A sweep that read nothing proves nothing, so `assert_clean` also insists that each place named was there.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Payload = bytes | str | Mapping[str, Any] | list[Any]


@dataclass(frozen=True, slots=True)
class Secret:
    """One value that must never be written down, under a label that is safe to print."""

    label: str
    value: str = field(repr=False)     # never in a report, a repr or pytest's assertion introspection

    def needles(self) -> tuple[bytes, ...]:
        """The forms it could be written in: as is, and a digit run also grouped by fours (as a PAN is printed)."""
        forms = {self.value}
        if self.value.isdigit() and len(self.value) >= 12:
            groups = [self.value[i:i + 4] for i in range(0, len(self.value), 4)]
            forms |= {" ".join(groups), "-".join(groups)}
        return tuple(form.encode() for form in sorted(forms))


@dataclass(frozen=True, slots=True)
class Leak:
    secret: str          # the secret's label, never its value
    where: str           # a file path, "log:<name>" or "payload:<name>#<index>"
    offset: int


@dataclass
class Sweep:
    """What was read (bytes per place) and what was found."""

    secrets: tuple[Secret, ...]
    scanned: dict[str, int] = field(default_factory=dict)
    leaks: list[Leak] = field(default_factory=list)

    def data(self, where: str, raw: bytes) -> None:
        self.scanned[where] = self.scanned.get(where, 0) + len(raw)
        for secret in self.secrets:
            for needle in secret.needles():
                offset = raw.find(needle)
                if offset >= 0:
                    self.leaks.append(Leak(secret.label, where, offset))

    def files(self, paths: Iterable[Path]) -> None:
        for path in paths:
            self.data(str(path), path.read_bytes())

    def logs(self, name: str, text: str) -> None:
        self.data(f"log:{name}", text.encode("utf-8", "surrogateescape"))

    def payloads(self, name: str, payloads: Iterable[Payload]) -> None:
        for index, payload in enumerate(payloads):
            self.data(f"payload:{name}#{index}", _bytes(payload))


def _bytes(payload: Payload) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    return json.dumps(payload, ensure_ascii=False, default=str).encode()


def database_files(state_dir: Path, name: str = "lane.db") -> list[Path]:
    """The database, its WAL and shared memory, and any copy moved aside as corrupt."""
    return sorted(p for p in state_dir.glob(f"{name}*") if p.is_file())


def as_secrets(secrets: Mapping[str, str] | Iterable[Secret]) -> tuple[Secret, ...]:
    if isinstance(secrets, Mapping):
        return tuple(Secret(label, value) for label, value in secrets.items())
    return tuple(secrets)


def sweep(secrets: Mapping[str, str] | Iterable[Secret], *, files: Iterable[Path] = (),
          logs: Mapping[str, str] | None = None,
          payloads: Mapping[str, Iterable[Payload]] | None = None) -> Sweep:
    """Read every file, log and payload given and report each secret found, by label and place."""
    result = Sweep(as_secrets(secrets))
    result.files(files)
    for name, text in (logs or {}).items():
        result.logs(name, text)
    for name, items in (payloads or {}).items():
        result.payloads(name, items)
    return result


def assert_clean(secrets: Mapping[str, str] | Iterable[Secret], *, state_dirs: Iterable[Path] = (),
                 files: Iterable[Path] = (), logs: Mapping[str, str] | None = None,
                 payloads: Mapping[str, Iterable[Payload]] | None = None) -> Sweep:
    """`sweep`, then fail naming every leak; also fail if a state directory had no lane database or a log or
    payload source named was empty (a sweep of nothing would pass whatever the lane wrote)."""
    wanted = as_secrets(secrets)
    assert wanted and all(s.value for s in wanted), "no secrets to look for"
    db_files: list[Path] = []
    for state_dir in state_dirs:
        found = database_files(state_dir)
        assert found, f"no lane.db in {state_dir}: the sweep would read nothing"
        db_files += found
    result = sweep(wanted, files=[*db_files, *files], logs=logs, payloads=payloads)
    for name, text in (logs or {}).items():
        assert text, f"log {name!r} is empty: the sweep would read nothing"
    for name in payloads or {}:
        assert any(where.startswith(f"payload:{name}#") for where in result.scanned), \
            f"no payloads captured as {name!r}: the sweep would read nothing"
    if result.leaks:    # raised, not asserted: pytest's introspection would print the Secret values
        raise AssertionError("secrets written down: " + "; ".join(
            f"{leak.secret} in {leak.where} at byte {leak.offset}" for leak in result.leaks))
    return result
