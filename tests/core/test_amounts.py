"""Amounts as people type them (capture/core/amounts.py): a table of what is read and what is refused."""
from __future__ import annotations

from decimal import Decimal

import pytest

from capture.core.amounts import AmountError, parse_amount


@pytest.mark.parametrize("text, amount", [
    ("6.2k", "6200"), ("6,200", "6200"), ("£6,200", "6200"), ("6200.00", "6200"), ("6200", "6200"),
    ("GBP 6200", "6200"), ("gbp6,200.50", "6200.50"), ("£ 6.2K", "6200"), (" 6,200 ", "6200"),
    ("1,234,567.89", "1234567.89"), ("0.5", "0.5"), (".5", "0.5"), ("6.25k", "6250"), ("6.2555k", "6255.5"),
    ("12k", "12000"),
])
def test_what_is_read(text, amount):
    assert parse_amount(text, "GBP") == Decimal(amount)


@pytest.mark.parametrize("text, says", [
    ("", "not an amount"), ("lots", "not an amount"), ("6,20", "commas in odd places"),
    ("1,2,3", "commas in odd places"), ("6.255", "more than two decimals"), ("6.255555k", "more than two decimals"),
    ("-5", "not an amount"), ("1e5", "not an amount"), ("NaN", "not an amount"), ("Infinity", "not an amount"),
    ("€6,200", "not an amount in GBP"), ("$6200", "not an amount in GBP"), ("EUR 10", "not an amount in GBP"),
    ("6.2kk", "not an amount"), ("k", "not an amount"), ("6 200", "not an amount"), ("9" * 30, "more than any deal"),
])
def test_what_is_refused_says_why(text, says):
    with pytest.raises(AmountError, match=says):
        parse_amount(text, "GBP")


def test_the_business_currency_decides_the_symbol():
    assert parse_amount("€6.2k", "EUR") == Decimal(6200)
    with pytest.raises(AmountError):
        parse_amount("£6.2k", "EUR")
