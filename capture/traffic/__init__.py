"""Cookieless visit counting: page-view beacons into daily aggregates with no personal data."""
