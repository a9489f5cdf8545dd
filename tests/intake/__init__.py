"""Tests of capture/intake/."""
