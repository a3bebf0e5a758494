"""Enums whose members carry the Vietnamese word an official reads, declared together: `draft = "draft", "nháp"`."""

from __future__ import annotations

from enum import StrEnum
from typing import Self


class LabelledEnum(StrEnum):
    """A StrEnum (compares and stores as its value) with a `label` for forms, letters and the command line."""

    _value_: str
    label: str

    def __new__(
        cls, value: str, label: str = ""
    ) -> Self:  # a look-up, Status("draft"), passes the value alone
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member
