"""One duration grammar (capture.core.durations) for sales.yml and the CAPTURE_* settings."""
from datetime import timedelta

import pytest

from capture.core.durations import parse_duration, span_text
from capture.core.setting_checks import ConfigError
from capture.core.settings import load_settings
from capture.schema.checks import duration as sales_duration
from tests.conftest import TEST_SECRET

BASE = {"secret_key": TEST_SECRET}

SPELLINGS = [
    ("250ms", timedelta(milliseconds=250)), ("0.05s", timedelta(milliseconds=50)),
    ("45s", timedelta(seconds=45)), ("30m", timedelta(minutes=30)), ("1.5h", timedelta(minutes=90)),
    ("2h", timedelta(hours=2)), ("2d", timedelta(days=2)), (" 90 m ", timedelta(minutes=90)),
    ("4H", timedelta(hours=4)), ("20S", timedelta(seconds=20)), ("730d", timedelta(days=730)),
]
NOT_DURATIONS = ["", "s", "1w", "-1h", "1h30m", "1.h", ".5h", "1e3s", "1,5h", "soon", "999999999999d"]


@pytest.mark.parametrize("text, expected", SPELLINGS)
def test_the_grammar(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", NOT_DURATIONS + ["30", 30, None, True])
def test_what_is_not_a_duration(text):
    with pytest.raises(ValueError, match="is not a duration|too long"):
        parse_duration(text)


def test_a_bare_number_has_the_unit_the_caller_names():
    assert parse_duration("30", unitless="s") == timedelta(seconds=30)
    assert parse_duration(" 0.5 ", unitless="s") == timedelta(milliseconds=500)


@pytest.mark.parametrize("text, expected", SPELLINGS)
def test_sales_yml_and_the_settings_read_the_same_spellings_alike(text, expected):
    settings = load_settings({**BASE, "keep_spam": text, "worker_poll": text}, environ={})
    assert settings.retention.spam == expected
    assert settings.delivery.poll == expected.total_seconds()
    assert sales_duration(text, "response.first_contact") == expected


@pytest.mark.parametrize("text", NOT_DURATIONS)
def test_sales_yml_and_the_settings_refuse_the_same_spellings(text):
    with pytest.raises(ConfigError, match="^CAPTURE_WORKER_POLL: .* is not a duration like 30s"):
        load_settings({**BASE, "worker_poll": text}, environ={})
    with pytest.raises(ValueError, match=r"^response\.first_contact: .* is not a duration like 30m"):
        sales_duration(text, "response.first_contact")


def test_zero_is_refused_by_the_settings_and_allowed_in_sales_yml_where_it_says_so():
    with pytest.raises(ConfigError, match="^CAPTURE_WORKER_POLL: '0s' is not a duration"):
        load_settings({**BASE, "worker_poll": "0s"}, environ={})
    assert sales_duration("0m", "consultation.buffer", allow_zero=True) == timedelta(0)


@pytest.mark.parametrize("span, text", [
    (timedelta(0), "0 min"), (timedelta(seconds=59), "0 min"), (timedelta(minutes=45), "45 min"),
    (timedelta(hours=5), "5 h"), (timedelta(hours=5, minutes=38), "5 h 38 min"),
    (timedelta(hours=10, minutes=3), "10 h 03 min"), (timedelta(days=2, minutes=1), "48 h 01 min"),
    (timedelta(minutes=-5), "0 min"),
])
def test_the_desk_shows_every_duration_one_way(span, text):
    assert span_text(span) == text
