"""User-facing errors.

Every problem a user can cause (unknown model, bad parallel layout, malformed file) raises a
:class:`GenzError` whose message is one line naming the field, the value and what is allowed.
The CLI prints that line and exits non-zero, without a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GenzError(ValueError):
    """A problem with the user's input, described in one line."""


def suggest(value: str, allowed: Iterable[str], n: int = 3) -> str:
    """Return ' (did you mean: a, b?)' for close matches of ``value`` in ``allowed``, or ''."""
    allowed = list(allowed)
    lower = {a.lower(): a for a in allowed}
    close = difflib.get_close_matches(str(value).lower(), list(lower), n=n, cutoff=0.5)
    if not close:
        return ""
    return " (did you mean: " + ", ".join(lower[c] for c in close) + "?)"
