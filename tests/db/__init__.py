"""Tests of capture/db/."""
