"""Amounts of money as people type them ('6.2k', '6,200', '£6,200', '6200.00'), through Babel.

Babel's `parse_decimal` reads the digits with the locale's separators, strictly, so '6,20'
is refused rather than read as 620; a `k` after the number means thousands. Only the
business's own currency: '€10,000' in a GBP business is refused, never stored as £10,000.
Formatting is formatting.money's; this module only reads.
"""
from __future__ import annotations

import re
from decimal import Decimal

from babel.numbers import NumberFormatError, get_currency_symbol, parse_decimal

from capture.core.formatting import LOCALE

# Digits with the locale's grouping and decimal marks, then an optional k: what parse_decimal is
# given (it takes exponents, signs, NaN and Infinity too, which no deal value is written as).
SHAPE = re.compile(r"(\d[\d,]*(?:\.\d+)?|\.\d+)\s*([kK]?)")
THOUSAND = Decimal(1000)
TOO_MUCH = Decimal(10) ** 15  # past any deal, and inside what Decimal quantizes to the hundredth
CENT = Decimal("0.01")


class AmountError(ValueError):
    """Text that is no amount in the business's currency; the message says so, for a person."""


def parse_amount(text: str, currency: str, locale: str = LOCALE) -> Decimal:
    """The amount `text` says, in major units ('6.2k' -> 6200); AmountError otherwise.

    A leading currency symbol or code ('£', 'GBP') of the business's currency is allowed.
    """
    typed = str(text or "").strip()
    amount = _without_currency(typed, currency, locale)
    found = SHAPE.fullmatch(amount)
    if not found:
        raise AmountError(f"'{typed}' is not an amount in {currency}: write it like 6,200, 6200.00 or 6.2k.")
    try:
        number = parse_decimal(found[1], locale=locale, strict=True)
    except NumberFormatError:
        raise AmountError(f"'{typed}' has its commas in odd places: write it like 6,200 or 6200.") from None
    if found[2]:
        number *= THOUSAND
    if number >= TOO_MUCH:
        raise AmountError(f"'{typed}' is more than any deal could be; please check the amount.")
    if number != number.quantize(CENT):
        raise AmountError(f"'{typed}' has more than two decimals: {currency} counts to the hundredth.")
    return number


def _without_currency(amount: str, currency: str, locale: str) -> str:
    """The amount without a leading symbol or code of `currency` ('£6,200', 'GBP 6200')."""
    for prefix in (get_currency_symbol(currency, locale), currency):
        if prefix and amount.upper().startswith(prefix.upper()):
            return amount[len(prefix):].strip()
    return amount
