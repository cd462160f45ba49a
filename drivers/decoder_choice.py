"""Which decoder the camera runs, by the name in its options: the cascade (`auto`), one library, or every pass.

Why apart from drivers/decode.py: the cascade is built from the single decoders and the misread rules, so it
imports drivers/decode.py and drivers/confirm.py; the choice between them sits above all three, and the
imports run one way only.
"""

from __future__ import annotations

from collections.abc import Sequence

from drivers.cascade import Cascade
from drivers.decode import Decoder, normalise, zbar_decoder, zxing_decoder


def make_decoder(name: str, symbologies: Sequence[str], budget_s: float = 0.020) -> Decoder:
    """`auto` (the cascade, the default), `zbar`, `zxing`, or `cascade-full` (every pass every frame)."""
    inner: Decoder
    if name == "zbar":
        inner = zbar_decoder(symbologies)
    elif name == "zxing":
        inner = zxing_decoder(symbologies)
    else:
        inner = Cascade(symbologies, budget_s, full=name == "cascade-full")
    return lambda gray: normalise(inner(gray), symbologies)
