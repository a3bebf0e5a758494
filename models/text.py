"""Vietnamese text: NFC normalisation and the comparison key (no case, no diacritics)."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
_NON_SLUG = re.compile(r"[^a-z0-9]+")


def nfc(text: str) -> str:
    """NFC-normalise and trim, collapsing inner white space."""
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return _SPACES.sub(" ", text).strip()


def has_control_chars(text: str) -> bool:
    """True if the text holds CR, LF or any other control, format or separator character (a header
    injection in a letter, or an invisible character such as a zero-width space in a decision number)."""
    if text.isprintable():  # fast path: no Cc, Cf, Zl, Zp (nor any other non-printable) character
        return False
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text)


def fold(text: str) -> str:
    """Comparison key: lower case, no diacritics, đ → d, single spaces ("Cẩm Thành" → "cam thanh")."""
    decomposed = unicodedata.normalize("NFD", nfc(text).casefold())
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return stripped.replace("đ", "d")


def slug(text: str) -> str:
    """URL/identifier form: "Cẩm Thủy" → "cam-thuy"."""
    return _NON_SLUG.sub("-", fold(text)).strip("-")
