"""Folding defeats common evasions while evidence spans still point into the original text."""

import pytest

from threatwatch.normalise import detect_lang, fold, fold_with_map


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("k i l l them", "kill them"),
        ("I C E agents", "ICE agents"),
        ("k1ll the 1CE agents", "kill the ICE agents"),
        ("go k.i.l.l him", "go kill him"),
        ("voy a m-a-t-a-r", "voy a matar"),
        ("ｋｉｌｌ", "kill"),  # fullwidth (NFKC)
        ("іСЕ raid", "iCE raid"),  # Cyrillic lookalikes
        ("k\u200bill", "kill"),  # zero-width space
        ("kiiiiillll", "kiill"),
        ("sh!t happens", "shit happens"),
    ],
)
def test_evasions_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded
    assert fold_with_map(raw)[0] == folded


@pytest.mark.parametrize("text", ["I am a test", "price $5 in 2026", "Whitfield!", "@user hi", "U.S. news", "ICE!!!"])
def test_ordinary_text_untouched(text: str) -> None:
    assert fold(text) == text


@pytest.mark.parametrize("raw", ["k i l l the 1CE agents", "ｋｉｌｌ іСЕ", "a\u200bb c", "niiiice one"])
def test_map_points_into_original(raw: str) -> None:
    folded, pos = fold_with_map(raw)
    assert len(pos) == len(folded)
    assert pos == sorted(pos) and all(0 <= p < len(raw) for p in pos)
    # every folded ASCII letter comes from a character that folds to it
    for ch, p in zip(folded, pos, strict=True):
        assert fold(raw[p]).lower() in (ch.lower(), raw[p].lower()) or not raw[p].isascii()


def test_language_id_offline() -> None:
    assert detect_lang("la migra está en el parque, tengan cuidado todos") == "es"
    assert detect_lang("ICE agents are outside the school, stay safe everyone") == "en"
    assert detect_lang("whatever", declared="es-MX") == "es"
    assert detect_lang("   ") is None
