"""Tests of capture/desk/."""
