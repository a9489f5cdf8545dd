"""Cookieless visit counting: the page-view beacon (beacons), what counts (checks) and the daily
aggregates with no personal data (counts). Wired in by wiring.init_app.
"""
