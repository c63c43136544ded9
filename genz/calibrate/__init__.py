"""Calibration: measured rows, profile fits (end to end and per kernel), cross-validation, invariants."""
