"""Offline catalog figures: import speed, point lookups, RSS with the cache open, snapshot pull end to end.

    .venv/bin/python bench/catalog.py [--products 1000000] [--members 1000000] [--small 200000]

Every figure stands beside a baseline measured in the same run: the import beside a bare sqlite3
executemany of the same rows into the same schema, the lookup beside a bare sqlite3 point query on the
same file. RSS and the pull run in fresh processes so the benchmark's own memory is not counted.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.catalog.db import CatalogDb  # noqa: E402
from agent.catalog.load import load_snapshot  # noqa: E402
from agent.catalog.schema import M001_TABLES  # noqa: E402
from agent.store import split_statements  # noqa: E402
from simulators.cloud.catalog_data import (  # noqa: E402
    SnapshotSpec,
    _order,  # noqa: E402
    gtin_for,
    member_id_for,
    price_for,
    write_snapshot,
)


def bare_import(path: Path, n: int, shuffled: bool, fast_pragmas: bool) -> float:
    """Rows/s of a plain executemany of the same product rows into the same schema, one transaction."""
    conn = sqlite3.connect(path, isolation_level=None)
    if fast_pragmas:
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -16384"):
            conn.execute(f"PRAGMA {pragma}")
    for statement in split_statements(M001_TABLES):
        conn.execute(statement)
    rows = ((gtin_for(i), f"Item {i}", price_for(i), "0.08", price_for(i) - 10, None, int(i % 50 == 0), 0, 0,
             None, 1) for i in _order(n, shuffled))
    started = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO products VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return n / seconds


def bench_import(work: Path, n: int) -> None:
    print(f"-- import of {n:,} products (JSON Lines file -> verified new generation -> swap)")
    for shuffled in (True, False):
        order = "unsorted" if shuffled else "sorted"
        source = write_snapshot(work / f"import-{order}.jsonl", SnapshotSpec(products=n, version=1,
                                                                             shuffled=shuffled))
        state = work / f"state-import-{order}"
        state.mkdir()
        result = load_snapshot(CatalogDb(state, cleanup=False), source, swap=False,
                               origin="import")   # as `catalog import` does
        catalog = CatalogDb(state)
        started = time.perf_counter()
        assert catalog.follow_pointer()     # what the running agent does next
        swap_s = time.perf_counter() - started
        catalog.close()
        ours = n / result.seconds
        plain = bare_import(work / f"bare-{order}.db", n, shuffled, fast_pragmas=False)
        fast = bare_import(work / f"bare-fast-{order}.db", n, shuffled, fast_pragmas=True)
        print(f"   {order:8}: agent {ours:9,.0f} rows/s ({result.seconds:.1f} s: parse, verify, insert, fsync, "
              f"pointer); then the agent's swap (open + integrity check) {swap_s:.2f} s")
        print(f"             bare executemany {plain:9,.0f} rows/s -> agent time / bare time {plain / ours:.2f}x; "
              f"bare with the loader's pragmas {fast:9,.0f} rows/s -> {fast / ours:.2f}x")
        source.unlink()


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50, p99 = ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.99)]
    return f"p50 {p50 * 1e6:5.1f} us  p99 {p99 * 1e6:5.1f} us"


def timed(fn: object, keys: list[str]) -> list[float]:
    samples = []
    for key in keys:
        started = time.perf_counter()
        fn(key)  # type: ignore[operator]
        samples.append(time.perf_counter() - started)
    return samples


def bench_lookup(work: Path, products: int, members: int) -> Path:
    print(f"-- point lookups with {products:,} products and {members:,} members (hot)")
    source = write_snapshot(work / "full.jsonl", SnapshotSpec(products=products, members=members, version=1,
                                                               shuffled=True))
    state = work / "state-lookup"
    catalog = CatalogDb.open(state)
    result = load_snapshot(catalog, source)
    source.unlink()
    print(f"   import of {products + members:,} records (products + members): {result.seconds:.1f} s, "
          f"{(products + members) / result.seconds:,.0f} rows/s")
    rng = random.Random(7)
    gtins = [gtin_for(rng.randrange(products)) for _ in range(100_000)]
    ids = [member_id_for(rng.randrange(members)) for _ in range(100_000)] if members else []
    conn = sqlite3.connect(f"file:{Path(catalog.status().path or '')}?mode=ro", uri=True)

    def bare(gtin: str) -> object:
        return conn.execute("SELECT * FROM products WHERE gtin = ?", (gtin,)).fetchone()

    for _ in range(2):   # the first pass warms the page cache; the second is measured ("hot")
        agent_product, bare_product = timed(catalog.product, gtins), timed(bare, gtins)
        agent_member = timed(catalog.member, ids)
        agent_item = timed(catalog.item, gtins)
    assert catalog.product(gtins[0]) is not None
    print(f"   agent catalog.product(gtin): {percentiles(agent_product)}")
    print(f"   agent catalog.item(gtin):    {percentiles(agent_item)} (product + promotions, one transaction)")
    print(f"   bare sqlite3 point query:    {percentiles(bare_product)}")
    if ids:
        print(f"   agent catalog.member(id):    {percentiles(agent_member)}")
    conn.close()
    catalog.close()
    return state


RSS_CHILD = """
import random, sys
from pathlib import Path
sys.path.insert(0, {root!r})
import agent.app  # the daemon's own imports, so the figure is the agent's, not a bare interpreter's
from agent.catalog.db import CatalogDb
from simulators.cloud.catalog_data import gtin_for
catalog = CatalogDb.open(Path({state!r}))
rng = random.Random(1)
for _ in range(200000):
    catalog.product(gtin_for(rng.randrange({products})))
fields = dict(l.split(":", 1) for l in Path("/proc/self/status").read_text().splitlines() if ":" in l)
print(int(fields["VmRSS"].split()[0]) // 1024, int(fields["VmHWM"].split()[0]) // 1024)
"""


def bench_rss(state: Path, products: int) -> None:
    code = RSS_CHILD.format(root=str(ROOT), state=str(state), products=products)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    base = subprocess.run([sys.executable, "-c", "import sqlite3, asyncio; from pathlib import Path;"
                           "print(next(int(l.split()[1]) // 1024 for l in open('/proc/self/status') "
                           "if l.startswith('VmHWM')))"], capture_output=True, text=True, check=True).stdout.strip()
    print(f"-- RSS of a process with the agent's modules and that catalog open, after 200k lookups: "
          f"{out[0]} MB (peak {out[1]} MB); bare python + sqlite3 + asyncio: {base} MB")


PULL_CHILD = """
import asyncio, sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from agent.catalog.db import CatalogDb
from agent.catalog.load import load_snapshot
from agent.catalog.catalog_sync import CatalogSync
from agent.catalog.pull import SnapshotClient
from simulators.cloud.catalog_data import SnapshotSpec, gtin_for, write_snapshot
state = Path({state!r})
token = state.with_suffix(".token"); token.write_text("test-token"); token.chmod(0o600)
catalog = CatalogDb.open(state)
load_snapshot(catalog, write_snapshot(state.with_suffix(".v1"), SnapshotSpec(products=10000, version=1)))
client = SnapshotClient({url!r}, token_file=token, deadline_s=900)
sync = CatalogSync(catalog, client, max_age_s=3600, poll_interval_s=3600)
samples = []

async def lookups(done):
    i = 0
    while not done.is_set():
        started = time.perf_counter()
        assert catalog.product(gtin_for(i % 10000)) is not None or catalog.status().version == 2
        samples.append(time.perf_counter() - started)
        i += 1
        await asyncio.sleep(0.001)

async def main():
    done = asyncio.Event()
    task = asyncio.create_task(lookups(done))
    await sync.pull()
    done.set()
    await task

started = time.monotonic()
asyncio.run(main())
assert sync.last_error is None, sync.last_error
seconds = time.monotonic() - started
# VmHWM, not ru_maxrss: after fork+exec ru_maxrss can carry the parent's peak
peak = next(int(l.split()[1]) // 1024 for l in open("/proc/self/status") if l.startswith("VmHWM"))
samples.sort()
loaded = sync.health.details["last_load"]
print(round(seconds, 1), peak, loaded["peak_rss_mb"], catalog.status().counts["product"],
      round(samples[len(samples) // 2] * 1e6), round(samples[int(len(samples) * 0.99)] * 1e6), round(samples[-1] * 1e6))
"""


def bench_pull(work: Path, sizes: list[int]) -> None:
    print("-- snapshot pull end to end (fake server in its own process, gzip, unsorted): HTTP -> file -> verify"
          " -> load -> swap")
    for n in sizes:
        command = [sys.executable, "-m", "simulators.cloud.catalog_server", "--products", str(n), "--gzip",
                   "--shuffled", "--version", "2"]
        server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None
            url = server.stdout.readline().split()[1]
            code = PULL_CHILD.format(root=str(ROOT), state=str(work / f"state-pull-{n}"), url=url)
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            seconds, peak, worker, count, p50, p99, worst = out.stdout.split()
            print(f"   {n:>9,} products: {seconds} s, peak RSS: agent {peak} MB, load worker {worker} MB; "
                  f"loaded {int(count):,}; lookups on the loop meanwhile: p50 {p50} us, p99 {p99} us, "
                  f"max {worst} us")
        finally:
            server.kill()
            server.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=200_000, help="the smaller pull size, to compare peak RSS")
    parser.add_argument("--only", choices=("import", "lookup", "pull"), help="run one part")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"catalog bench: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
          f"SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="omo-catalog-bench-") as tmp:
        work = Path(tmp)
        if args.only in (None, "import"):
            bench_import(work, args.products)
        if args.only in (None, "lookup"):
            state = bench_lookup(work, args.products, args.members)
            bench_rss(state, args.products)
        if args.only in (None, "pull"):
            bench_pull(work, [args.small, args.products])
    print(f"bench process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB; "
          f"load average now {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
