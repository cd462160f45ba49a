"""Watching `omo-edge demo`: the journey waits a bounded while for a browser on the shopper's screen (or says
how long it will take), and the interactive lane lists what one can type.

Why a bounded wait only in a terminal: the journey is over in about 20 s, too soon to open the printed URL
after reading it, but `./.ci/bootstrap demo` in CI and the tests must finish by themselves, so nothing waits
when CI is set, when the output is not a terminal or with `--no-wait`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from simulators.cloud.store_catalog import BATTERIES, BEER, MEMBER, ONIGIRI, SNACK, TEA, beef_label
from simulators.cloud.tokens import TokenIssuer
from simulators.demo.world import demo_catalog

# What the journey costs beyond its steps' pace (measured: 22 steps at 0.8 s took 21.5 s): the app paying the
# QR, the payments followed, the backlog drained.
JOURNEY_OVERHEAD_S = 5.0
WALLET = "285555555555555555"            # a wallet app's code, not used by the scripted journey


def journey_seconds(steps: int, pace: float) -> float:
    """About how long the scripted journey takes at `pace` seconds between steps."""
    return steps * pace + JOURNEY_OVERHEAD_S


def may_wait(no_wait: bool, wait_s: float) -> bool:
    """Wait for a browser only for a person at a terminal: never in CI, in a pipe, or when told not to."""
    return not no_wait and wait_s > 0 and not os.environ.get("CI") and sys.stdin.isatty() and sys.stdout.isatty()


async def wait_for_screen(screens: Callable[[], int], url: str, wait_s: float, console: Console) -> bool:
    """Until a screen follows the lane (`screens()`: the API's WebSocket clients), Enter, or `wait_s`."""
    console.print(f"waiting up to {wait_s:.0f} s for a browser on {url} (Enter starts now; --no-wait skips this)")
    loop = asyncio.get_running_loop()
    entered = asyncio.Event()
    loop.add_reader(sys.stdin.fileno(), lambda: (sys.stdin.readline(), entered.set()))
    deadline = time.monotonic() + wait_s
    try:
        while time.monotonic() < deadline:
            if screens() or entered.is_set():
                break
            await asyncio.sleep(0.1)        # polled: the API counts its screens, it does not announce them
    finally:
        loop.remove_reader(sys.stdin.fileno())
    if screens():
        console.print("the screen is open: the journey starts")
        await asyncio.sleep(0.5)            # its first view drawn before the first step
        return True
    console.print("starting" if entered.is_set() else f"no screen after {wait_s:.0f} s: starting anyway")
    return False


def codes_table() -> Table:
    """The codes to type at the interactive lane, with what each does there."""
    table = Table(title="codes to type (each is sent by the pty scanner, as a scan)", show_edge=False)
    table.add_column("type")
    table.add_column("what it is")
    prices = {line["gtin"]: line for line in demo_catalog() if "gtin" in line}
    for gtin in (TEA, ONIGIRI, BATTERIES, BEER):
        line = prices[gtin]
        member = f" (members ¥{line['member_price']:,})" if line.get("member_price") else ""
        table.add_row(gtin, f"{line['name']}, ¥{line['price']:,}{member}"
                      + (": staff check the age" if line.get("age_restricted") else ""))
    table.add_row(SNACK, f"{prices[SNACK]['name']}: sale stopped, refused")
    table.add_row(beef_label(350), "Wagyu beef, 350 g on the deli scale's label (¥398 per 100 g)")
    table.add_row(TEA[:-1] + str((int(TEA[-1]) + 1) % 10), "a wrong check digit: refused")
    table.add_row(WALLET, "a wallet app's code: pays the basket")
    table.add_row("member", f"(a word) a fresh member QR for {MEMBER} is scanned")
    table.add_row("staff", "(a word) a fresh staff code is scanned: approves what staff were called for")
    return table


def typed_code(line: str, issuer: TokenIssuer) -> tuple[str, str | None]:
    """What a typed line scans: the words `member` and `staff` mint a fresh signed code (single use, short
    lived, so none can be printed ahead); anything else is scanned as typed. Returns (code, AIM prefix)."""
    word = line.strip()
    if word == "member":
        return issuer.member(MEMBER), "]Q1"
    if word == "staff":
        return issuer.staff("S-0042"), "]Q1"
    return word, None
