"""Tests of capture/delivery/."""
