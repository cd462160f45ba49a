"""Signed receipt IDs: the link's ID names its sale only with the lane's key; any change to it is refused."""

from __future__ import annotations

import pytest

from agent.receipts.links import receipt_id, receipt_url, verify

KEY = b"k" * 32
SALE = "0193A1B2C3D4E5F60718293A4B5C6D7E"


def test_a_receipt_id_verifies_to_its_sale_and_fits_a_url() -> None:
    signed = receipt_id(SALE, KEY)
    assert verify(signed, KEY) == SALE
    assert receipt_url("https://r.example.com/{receipt_id}", SALE, KEY) == f"https://r.example.com/{signed}"
    assert all(c.isalnum() or c == "-" for c in signed)


@pytest.mark.parametrize("tamper", [
    lambda s: s[:-1] + ("a" if s[-1] != "a" else "b"),                      # one character of the tag
    lambda s: "0193A1B2C3D4E5F60718293A4B5C6D7F" + s[len(SALE):],          # another sale, the same tag
    lambda s: s.split("-")[0],                                              # no tag
    lambda s: s[:-4],                                                       # a shortened tag
])
def test_a_tampered_receipt_id_is_refused(tamper: object) -> None:
    signed = receipt_id(SALE, KEY)
    assert callable(tamper)
    assert verify(tamper(signed), KEY) is None


def test_another_key_refuses_the_id_and_a_guess_is_not_the_tag() -> None:
    signed = receipt_id(SALE, KEY)
    assert verify(signed, b"another key of the same length!!") is None
    assert receipt_id("0193A1B2C3D4E5F60718293A4B5C6D7F", KEY).split("-")[1] != signed.split("-")[1]
    assert len(signed.split("-")[1]) == 24          # 120 bits of HMAC-SHA256
