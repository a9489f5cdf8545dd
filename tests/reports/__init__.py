"""Tests of capture/reports/."""
