"""Tests of capture/core/."""
