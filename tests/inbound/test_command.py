"""`flask --app capture inbound` refuses to start with nothing to take mail for."""
from __future__ import annotations


def test_without_a_reply_domain_the_service_does_not_start(app):
    result = app.test_cli_runner().invoke(args=["inbound", "--port", "2599"])
    assert result.exit_code == 1
    assert "CAPTURE_REPLY_DOMAIN is not set" in result.output


def test_a_reply_domain_that_is_no_domain_stops_the_app(make_app, capsys):
    try:
        make_app(reply_domain="not a domain")
    except SystemExit as stop:
        assert stop.code == 4
    else:
        raise AssertionError("the app started with a bad CAPTURE_REPLY_DOMAIN")
    assert "CAPTURE_REPLY_DOMAIN" in capsys.readouterr().err
