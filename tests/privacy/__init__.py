"""Tests of capture/privacy/."""
