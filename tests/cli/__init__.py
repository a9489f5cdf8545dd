"""Tests of capture/cli/."""
