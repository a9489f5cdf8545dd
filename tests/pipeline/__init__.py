"""Tests of capture/pipeline/."""
