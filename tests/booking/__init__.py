"""Tests of capture/booking/."""
