"""The payment fault campaign, long: `.venv/bin/python bench/soak_payment.py [--trials 200] [--seed 1]`.

Visits paid through the `paypay` adapter against the payment-service simulator on 127.0.0.1, one random
fault per trial (simulators/trials/payment.py); at the end every charge must have exactly one sale and
every sale exactly one charge. Prints the trials per fault, sales, charges and problems (none is OK).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.payment.paypay import PayPayAdapter  # noqa: E402
from simulators.cloud.payment_service import PaymentService  # noqa: E402
from simulators.fixtures.session import SessionLane, store_state, trusted_issuer  # noqa: E402
from simulators.trials.payment import campaign  # noqa: E402


async def main_async(trials: int, seed: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        state, issuer = store_state(work), trusted_issuer(work)
        service = PaymentService()
        await service.start()
        adapter = PayPayAdapter(service.url, "M-1", "key-1", b"secret-1", timeout_s=2)
        lane = SessionLane(state, issuer, adapter=adapter)  # type: ignore[arg-type]
        await lane.open()
        started = time.monotonic()
        try:
            report = await campaign(lane, service, trials, seed)
        finally:
            await lane.stop()
            await adapter.close()
            await service.stop()
    print(f"payment fault campaign: {report.trials} trials in {time.monotonic() - started:.0f} s; "
          f"per fault {dict(sorted(report.faults.items()))}")
    print(f"  sales {report.sales}, charges {report.charges}, problems {len(report.problems)}: "
          + ("OK" if not report.problems else "; ".join(report.problems[:5])))
    return 0 if not report.problems else 1


def main() -> int:
    # The lane's warnings (one per unknown result) and aiohttp's resets (a lane stopped mid-request) are
    # expected here by the thousand; the report below is the result.
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    logging.getLogger("agent.session.checkout").setLevel(logging.CRITICAL)   # the injected commit failures
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    return asyncio.run(main_async(args.trials, args.seed))


if __name__ == "__main__":
    raise SystemExit(main())
