"""Structured, journald-friendly logging: one line per event, key=value (logfmt) or JSON, to stdout."""

from __future__ import annotations

import json
import logging
import sys
import time

# Attributes every LogRecord has; anything else came in through `extra=` and is printed as a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


def _quote(value: object) -> str:
    text = str(value)
    if text and not any(c in text for c in ' ="\n\\'):
        return text
    return json.dumps(text, ensure_ascii=False)


class LogfmtFormatter(logging.Formatter):
    """`ts=... level=info logger=agent.app msg="..." key=value`; journald adds its own timestamp but humans like one."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        fields = {"ts": ts, "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage()}
        fields.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        return " ".join(f"{k}={_quote(v)}" for k, v in fields.items())


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, object] = {"ts": record.created, "level": record.levelname.lower(), "logger": record.name,
                                     "msg": record.getMessage()}
        fields.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        return json.dumps(fields, ensure_ascii=False, default=str)


def setup(level: str = "info", fmt: str = "logfmt") -> None:
    """Route every logger to stdout once; calling again changes level and format (SIGHUP reload)."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "omo_edge", False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stdout)
        handler.omo_edge = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if fmt == "json" else LogfmtFormatter())
    root.setLevel(level.upper())
    for noisy in ("aiohttp.access", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
