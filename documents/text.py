"""Vietnamese text as administrative documents write it (Decree 30/2020/NĐ-CP, Appendix I): dates in
words, numbers with their leading zero, place names, unit names in headings. Everything NFC."""

from __future__ import annotations

import re
from datetime import date

from models.text import nfc
from models.units import LEVEL_WORDS, Level, strip_level_word

# Where a central body signs: its seat (Decree 30: the place name is where the body has its seat).
CENTRAL_PLACE = "Hà Nội"


def day_in_words(day: date) -> str:
    """'ngày 05 tháng 02 năm 2025', 'ngày 15 tháng 10 năm 2025': a day below 10 and the months 1 and 2
    take a leading zero (Decree 30/2020, Appendix I, I.6(b))."""
    month = f"{day.month:02d}" if day.month < 3 else str(day.month)
    return f"ngày {day.day:02d} tháng {month} năm {day.year}"


def place_and_date(place: str, day: date) -> str:
    """'Cẩm Thạch, ngày 15 tháng 10 năm 2025'."""
    return nfc(f"{place}, {day_in_words(day)}")


def place_of(name: str, level: Level) -> str:
    """The place name a unit's documents carry: 'xã Cẩm Thạch' → 'Cẩm Thạch'; a central body: Hà Nội."""
    if level in (Level.moha, Level.prime_minister, Level.president):
        return CENTRAL_PLACE
    return capitalize_words(strip_level_word(nfc(name)))


_NUMBER = re.compile(r"^\s*(\d+)\s*/")


def document_number(number: str) -> str:
    """'5/QĐ-UBND' → '05/QĐ-UBND': a number below 10 takes a leading zero (Decree 30, Appendix I, I.4)."""
    text = nfc(number)
    match = _NUMBER.match(text)
    if match is None:
        return text
    return f"{int(match[1]):02d}" + text[match.end(1) :].lstrip()


def capitalize_words(text: str) -> str:
    """Each syllable with its first letter capitalised, the rest as written: 'cẩm thạch' → 'Cẩm Thạch'."""
    return " ".join(word[:1].upper() + word[1:] for word in nfc(text).split(" "))


def unit_title(name: str) -> str:
    """A unit's name at the head of a sentence or a heading line: 'xã Cẩm Thạch' → 'Xã Cẩm Thạch',
    'thành phố huế' → 'Thành phố Huế' (the level word keeps its lower case after its first letter, the
    proper name has each syllable capitalised)."""
    text = nfc(name)
    lowered = text[:1].lower() + text[1:]
    for word in LEVEL_WORDS:
        if lowered.lower().startswith(word + " "):
            proper = capitalize_words(text[len(word) + 1 :])
            return word[:1].upper() + word[1:] + " " + proper
    return text[:1].upper() + text[1:]


def upper(text: str) -> str:
    """Upper case for the issuing body's lines and titles ('xã Cẩm Thạch' → 'XÃ CẨM THẠCH'), NFC."""
    return nfc(nfc(text).upper())


def money_vi(amount: int) -> str:
    """1500000 → '1.500.000 đồng'."""
    return f"{amount:,}".replace(",", ".") + " đồng"
