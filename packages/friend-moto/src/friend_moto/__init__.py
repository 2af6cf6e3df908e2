"""Corrections to what moto writes, shared by the test rigs that run on it."""
