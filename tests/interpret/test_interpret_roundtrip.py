"""Round trip: render a code as a label printer or the app would, decode the image, interpret the result.

Rendering: python-barcode (EAN/UPC, GS1-128), segno (QR), zxing-cpp's writer (DataBar, DataMatrix, UPC-E,
ITF-14). Decoding: the camera driver's own pyzbar and zxing-cpp decoders (drivers/decode.py), every symbology on.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from agent.interpret.gtin import check_digit
from agent.interpret.meanings import Meaning, Member, Product
from agent.interpret.router import interpret
from agent.interpret.rules import Rules
from simulators.cloud.tokens import TokenIssuer

barcode = pytest.importorskip("barcode")
segno = pytest.importorskip("segno")
zxingcpp = pytest.importorskip("zxingcpp")
pytest.importorskip("pyzbar.pyzbar")

from drivers.decode import SYMBOLOGIES, Decoded, normalise, zbar_decoder, zxing_decoder  # noqa: E402

DECODERS = (zbar_decoder(SYMBOLOGIES), zxing_decoder(SYMBOLOGIES))

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
GTIN = "09506000134352"


def decode(image: np.ndarray) -> list[Decoded]:
    """What the camera driver's two decoders read (each case is checked through each decoder)."""
    image = np.pad(image, 40, constant_values=255)
    found = [d for decoder in DECODERS for d in decoder(image)]
    return normalise(found, SYMBOLOGIES)


def python_barcode(kind: str, body: str) -> np.ndarray:
    from barcode.writer import ImageWriter

    return np.array(barcode.get(kind, body, writer=ImageWriter()).render().convert("L"))


def zxing(fmt: str, content: str) -> np.ndarray:
    return np.array(zxingcpp.create_barcode(content, getattr(zxingcpp.BarcodeFormat, fmt)).to_image(scale=3))


def qr(content: str) -> np.ndarray:
    matrix = np.array(segno.make_qr(content, error="m").matrix, dtype=np.uint8)
    return np.kron(np.where(matrix > 0, 0, 255).astype(np.uint8), np.ones((5, 5), dtype=np.uint8))


def meanings(image: np.ndarray, rules: Rules | None = None) -> list[Meaning]:
    found = decode(image)
    readers = {d.decoder for d in found}
    # zbar has no DataMatrix reader; every other code must be read by both decoders.
    assert readers == ({"zxing"} if any("datamatrix" in d.symbology for d in found) else {"zbar", "zxing"}), found
    return [interpret(d.symbology, d.data.decode("latin-1"), d.data, rules or Rules(), NOW, aim=d.aim)
            for d in found]


def ean(body: str) -> str:
    return body + str(check_digit(body))


@pytest.mark.parametrize(("kind", "body", "gtin14"), [
    ("ean13", "490123456789", "04901234567894"),
    ("ean8", "9638507", "00000096385074"),
    ("upca", "03600029145", "00036000291452"),
])
def test_retail_codes_rendered_by_python_barcode(kind: str, body: str, gtin14: str) -> None:
    for meaning in meanings(python_barcode(kind, body)):
        assert isinstance(meaning, Product) and meaning.gtin14 == gtin14


def test_price_marked_fresh_food_label() -> None:
    for meaning in meanings(python_barcode("ean13", "021234500398")):
        assert isinstance(meaning, Product) and (meaning.price_minor, meaning.rcn_item) == (398, "12345")


@pytest.mark.parametrize(("fmt", "content"), [("UPCE", "01234565"), ("ITF", "15400141288763")])
def test_upce_and_itf14_rendered_by_zxing(fmt: str, content: str) -> None:
    expected = {"UPCE": "00012345000065", "ITF": "15400141288763"}[fmt]
    for meaning in meanings(zxing(fmt, content)):
        assert isinstance(meaning, Product) and meaning.gtin14 == expected


def test_gs1_128_label_from_python_barcode() -> None:
    for meaning in meanings(python_barcode("gs1_128", f"(01){GTIN}(17)271231(10)AB12")):
        assert isinstance(meaning, Product) and (meaning.gtin14, meaning.batch) == (GTIN, "AB12")
        assert meaning.expiry == date(2027, 12, 31) and meaning.blocked is None


def test_databar_omnidirectional() -> None:
    for meaning in meanings(zxing("DataBar", GTIN[:13])):   # the writer adds the check digit
        assert isinstance(meaning, Product) and meaning.gtin14 == GTIN


def test_expired_databar_expanded_is_blocked() -> None:
    for meaning in meanings(zxing("DataBarExpanded", f"(01){GTIN}(17)251231(10)LOT9")):
        assert isinstance(meaning, Product) and meaning.blocked == "expired" and meaning.batch == "LOT9"


def test_datamatrix_carrying_an_element_string_with_gs() -> None:
    for meaning in meanings(zxing("DataMatrix", f"01{GTIN}10LOT9\x1d21SER7\x1d17271231")):
        assert isinstance(meaning, Product) and (meaning.batch, meaning.serial) == ("LOT9", "SER7")


def test_digital_link_qr() -> None:
    for meaning in meanings(qr(f"https://id.gs1.org/01/{GTIN}/10/LOT9?3103=000750")):
        assert isinstance(meaning, Product) and (meaning.gtin14, meaning.weight_g) == (GTIN, 750)


def test_app_member_qr(token_issuer: TokenIssuer, interpret_rules: Rules) -> None:
    token = token_issuer.member("M-77", now=NOW.timestamp())
    for meaning in meanings(qr(token), interpret_rules):
        assert isinstance(meaning, Member) and meaning.member_id == "M-77"
