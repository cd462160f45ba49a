"""The shape of the code, measured the same way before and after a change of layout.

    .venv/bin/python bench/code_shape.py [--package agent/session] [--no-trace]

1. The import graph inside a package (its modules and subpackages, recursively), built by
   simulators/code_graph.py, the same graph the tests hold to "no import circle": modules, arrows between
   them (lazy and type-checking imports counted, since they are dependencies a reader follows all the same),
   import floors (the longest chain of arrows, after folding every cycle into one node) and cycles (strongly
   connected groups of more than one module).
2. How many of the product's source files (agent/, drivers/) one scan visits, and how many one wallet-code
   payment visits, on an in-process lane (the real pipeline, session and payment adapter against the payment
   service simulator on 127.0.0.1), traced with `sys.setprofile` on every thread. Each is measured on a
   second, warm visit so start-up imports are not counted.

Exit status: 0, or 1 when the lane could not be driven (a real failure, with its reason).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulators.code_graph import floors, package_graph, strongly_connected  # noqa: E402


def report_graph(package_dir: Path) -> None:
    graph = package_graph(package_dir)
    groups = strongly_connected(graph)
    cycles = [sorted(g) for g in groups if len(g) > 1]
    print(f"package {package_dir.relative_to(ROOT)}: modules {len(graph)}, arrows {sum(map(len, graph.values()))}, "
          f"import floors {floors(graph, groups)}, cycles {len(cycles)}")
    for cycle in cycles:
        print("  cycle: " + " <-> ".join(cycle))


class FileTrace:
    """The product's source files (agent/, drivers/) any thread runs Python code in while it is on."""

    def __init__(self) -> None:
        self.files: set[str] = set()
        self.roots = tuple(str(ROOT / d) + "/" for d in ("agent", "drivers"))

    def _profile(self, frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            filename = frame.f_code.co_filename
            if filename.startswith(self.roots):
                self.files.add(filename)

    def __enter__(self) -> FileTrace:
        threading.setprofile(self._profile)
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]


async def lane_figures() -> tuple[int, int]:
    from agent.payment.paypay import PayPayAdapter
    from simulators.cloud.payment_service import PaymentService
    from simulators.cloud.store_catalog import BATTERIES, TEA
    from simulators.fixtures.session import SessionLane, store_state, trusted_issuer

    wallet = "281234567890123456"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # The profile hook must be in place before the writer threads start, so the lane opens inside it.
        service = PaymentService()
        await service.start()
        adapter = PayPayAdapter(service.url, "M-1", "key-1", b"secret-1", timeout_s=2)
        trace = FileTrace()
        threading.setprofile(trace._profile)
        lane = SessionLane(store_state(work), trusted_issuer(work), adapter=adapter)
        await lane.open()
        threading.setprofile(None)  # type: ignore[arg-type]
        try:
            for code in (TEA, wallet):               # a warm first visit: lazy imports and caches are loaded
                await lane.scan(code, symbology="qr" if code == wallet else "ean13")
            await lane.settled()
            await lane.scan(TEA)
            scan_files = await one_step(trace, lambda: lane.scan(BATTERIES))

            async def pay() -> None:
                await lane.scan(wallet, symbology="qr")
                await lane.settled()

            pay_files = await one_step(trace, pay)
            if lane.view["state"] != "paid":
                raise RuntimeError(f"the wallet-code payment did not complete: {lane.view['prompts']}")
        finally:
            await lane.stop()
            await adapter.close()
            await service.stop()
    return scan_files, pay_files


async def one_step(trace: FileTrace, step: Callable[[], Awaitable[Any]]) -> int:
    trace.files.clear()
    sys.setprofile(trace._profile)
    try:
        await step()
        await asyncio.sleep(0.05)
    finally:
        sys.setprofile(None)
    return len(trace.files)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--package", default="agent/session", help="the package whose import graph to measure")
    parser.add_argument("--no-trace", action="store_true", help="only the import graph")
    args = parser.parse_args()
    report_graph(ROOT / args.package)
    if args.no_trace:
        return 0
    try:
        scan_files, pay_files = asyncio.run(lane_figures())
    except Exception as exc:  # a bench reports its failure as a line and a status, not a traceback
        print(f"code_shape: the lane could not be driven: {exc!r}", file=sys.stderr)
        return 1
    print(f"files a scan visits: {scan_files}")
    print(f"files a wallet-code payment visits: {pay_files}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
