"""Fault injection for the atomic writes: every pipeline output is written under a temporary name and
renamed into place; :func:`debug_pause` lets a test kill a run between the two."""

from __future__ import annotations

import os


def debug_pause(step: str) -> None:
    """Fault-injection aid: sleep at a step's critical point (output written aside, not yet renamed)
    when ``GENZ_PAUSE_AT`` names the step, so tests can kill a run exactly there."""
    if os.environ.get("GENZ_PAUSE_AT") == step:
        import time

        time.sleep(float(os.environ.get("GENZ_PAUSE_S", "30")))
