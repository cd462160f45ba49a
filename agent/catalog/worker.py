"""Load a pulled snapshot in a child process, so a million lines of JSON never compete with the lanes' lookups.

Why a process and not a thread: parsing holds the GIL, and lookups on the event loop measured stalls of
hundreds of milliseconds while a big load ran in a thread. The child verifies, loads and moves the
pointer (`load_snapshot(..., swap=False)`); the parent then switches its own reference with
`CatalogDb.follow_pointer()`. The child reports one JSON line on stdout.

    python -m agent.catalog.worker --state-dir DIR [--etag ETAG] FILE
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from agent.catalog.db import CatalogDb
from agent.catalog.fields import CatalogLineError
from agent.catalog.load import OlderSnapshot, load_snapshot
from agent.errors import StoreError


async def load_in_worker(catalog: CatalogDb, source: Path, etag: str | None) -> dict[str, Any]:
    """Verify and load `source` in a child process, then switch `catalog` to it.

    Returns the worker's report: version, counts, seconds, peak_rss_mb.

    Raises the same errors as `load_snapshot`: CatalogLineError, OlderSnapshot, StoreError.
    """
    args = [sys.executable, "-m", "agent.catalog.worker", "--state-dir", str(catalog.state_dir), str(source)]
    if etag:
        args[-1:-1] = ["--etag", etag]
    process = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await process.communicate()
    except asyncio.CancelledError:
        process.kill()       # the new file is left as *.loading and removed at the next start
        await process.wait()
        raise
    report = _report(out, err, process.returncode)
    if "error" in report:
        raise _rebuild(report)
    await asyncio.to_thread(catalog.follow_pointer)
    return report


def _report(out: bytes, err: bytes, code: int | None) -> dict[str, Any]:
    try:
        report: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
        return report
    except (ValueError, IndexError):
        tail = err.decode(errors="replace").strip()[-500:]
        return {"error": "store", "message": f"catalog load worker exited {code} without a report: {tail}"}


def _rebuild(report: dict[str, Any]) -> Exception:
    if report["error"] == "older":
        return OlderSnapshot(report["offered"], report["current"], floor_is_cloud=report.get("floor_is_cloud", False))
    if report["error"] == "invalid":
        return CatalogLineError(report["line"], report["problem"])
    return StoreError(report["message"])


def _peak_rss_mb() -> int:
    """VmHWM of this process (ru_maxrss can carry the parent's peak across fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--etag")
    parser.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    report: dict[str, Any]
    try:
        result = load_snapshot(CatalogDb(args.state_dir, cleanup=False), args.file, etag=args.etag, swap=False)
        report = {"version": result.version, "counts": result.counts, "seconds": round(result.seconds, 3),
                  "peak_rss_mb": _peak_rss_mb()}
    except OlderSnapshot as exc:
        report = {"error": "older", "offered": exc.offered, "current": exc.current,
                  "floor_is_cloud": exc.floor_is_cloud}
    except CatalogLineError as exc:
        report = {"error": "invalid", "line": exc.line, "problem": exc.problem}
    except StoreError as exc:
        report = {"error": "store", "message": str(exc)}
    print(json.dumps(report), flush=True)
    return 0 if "error" not in report else 2


if __name__ == "__main__":
    raise SystemExit(main())
