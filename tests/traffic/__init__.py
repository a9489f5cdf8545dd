"""Tests of capture/traffic/."""
