"""Tests of capture/schema/."""
