"""Fuzz the scan router: N seeded random inputs (default 1,000,000), counting crashes.

    .venv/bin/python bench/fuzz_interpret.py [--count 1000000] [--seed 1]

A crash is an exception out of `interpret()`, an `Invalid("internal_error")` (the router's own safety net
caught a bug), or event fields that do not serialise to JSON. Inputs are random bytes, and valid EAN/UPC,
RCN, GS1 element strings, Digital Link URIs and signed tokens with random mutations (digits changed, bytes
inserted or cut, separators swapped), under random symbologies. Exit status 1 if anything crashed.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.interpret import tokens  # noqa: E402
from agent.interpret.gtin import check_digit  # noqa: E402
from agent.interpret.router import interpret  # noqa: E402
from agent.interpret.rules import CodeRule, Rules  # noqa: E402
from simulators.cloud.tokens import TokenIssuer  # noqa: E402

SYMBOLOGIES = ("ean13", "ean8", "upca", "upce", "itf", "code128", "gs1-128", "databar", "databar-expanded",
               "qr", "gs1-qr", "datamatrix", "gs1-datamatrix", "unknown", "")
NOISE = "0123456789()\x1d~|^]<>GS{}[]/?=&%.-_:eyJABCxyz\r\n\x00é漢"


def ean(rng: random.Random, digits: int) -> str:
    body = "".join(rng.choice("0123456789") for _ in range(digits - 1))
    return body + str(check_digit(body))


def seeds(rng: random.Random, issuer: TokenIssuer) -> list[str]:
    gtin = "0" + ean(rng, 13)
    tokens_ = [issuer.member(), issuer.coupon(), issuer.order(), issuer.staff()]
    return [ean(rng, 13), ean(rng, 8), ean(rng, 12), ean(rng, 14), "01234565", "02" + ean(rng, 11),
            "25" + ean(rng, 11), f"01{gtin}17261231" + "10AB1\x1d21X", f"(01){gtin}(3103)001250(10)L",
            f"01{gtin}3922" + "1234", f"01{gtin}3932978" + "99", f"00{ean(rng, 18)}", f"8008{ean(rng, 12)}",
            f"https://id.gs1.org/01/{gtin}/10/A?17=261231", f"http://b.example/x/01/{gtin}", "2512345678901234567",
            *tokens_]


def mutate(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(0, 3)):
        action = rng.randrange(4)
        position = rng.randrange(len(chars) + 1)
        if action == 0 and chars:
            chars[min(position, len(chars) - 1)] = rng.choice(NOISE)
        elif action == 1:
            chars.insert(position, rng.choice(NOISE))
        elif action == 2 and chars:
            del chars[min(position, len(chars) - 1)]
        else:
            chars = chars[:position]
    return "".join(chars)


def one_input(rng: random.Random, pool: list[str]) -> tuple[str, str, bytes]:
    if rng.random() < 0.3:
        data = rng.randbytes(rng.randint(0, 64))
        return rng.choice(SYMBOLOGIES), data.decode("utf-8", "replace"), data
    text = mutate(rng, rng.choice(pool))
    return rng.choice(SYMBOLOGIES), text, text.encode("utf-8", "surrogatepass")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)   # internal errors are counted below, not printed a million times
    rng = random.Random(args.seed)
    issuer = TokenIssuer(kid="fuzz")
    with tempfile.TemporaryDirectory() as tmp:
        keys = tokens.load_keys([issuer.write_public_key(Path(tmp))])
    rules = Rules(keys=keys, member_cards=(CodeRule("card", ("29",), (13,), "gs1"),))
    now = datetime.now().astimezone()
    pool = seeds(rng, issuer)
    kinds: Counter[str] = Counter()
    crashes: list[str] = []
    started = time.perf_counter()
    for _ in range(args.count):
        symbology, text, data = one_input(rng, pool)
        try:
            meaning = interpret(symbology, text, data, rules, now)
            json.dumps(meaning.event_fields())
            kinds[meaning.kind] += 1
            if getattr(meaning, "reason", None) == "internal_error":
                crashes.append(f"internal_error symbology={symbology!r} text={text!r}")
        except Exception as exc:   # the point of the run: nothing may escape
            crashes.append(f"{type(exc).__name__}: {exc} symbology={symbology!r} text={text!r}")
    elapsed = time.perf_counter() - started
    print(f"inputs: {args.count:,} in {elapsed:.1f} s ({args.count / elapsed:,.0f}/s), seed {args.seed}")
    print("meanings: " + ", ".join(f"{k}={v:,}" for k, v in sorted(kinds.items())))
    print(f"crashes: {len(crashes)}")
    for line in crashes[:10]:
        print("  " + line[:300])
    return 1 if crashes else 0


if __name__ == "__main__":
    raise SystemExit(main())
