"""The caller's region (来电号码归属地) from the number, with the phonenumbers geocoder in Chinese."""

from __future__ import annotations

import phonenumbers
from phonenumbers import geocoder


def caller_region(number: str) -> str | None:
    """e.g. 北京市 for 13800138000; None when the number cannot be parsed. Some mobile ranges give only 中国."""
    digits = number.strip()
    if digits.startswith("0086"):
        digits = "+86" + digits[4:]
    try:
        parsed = phonenumbers.parse(digits, "CN")
    except phonenumbers.NumberParseException:
        return None
    return geocoder.description_for_number(parsed, "zh") or None
