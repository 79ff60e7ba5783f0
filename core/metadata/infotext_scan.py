"""The ``Key: value`` pairs of an A1111 parameters line, found in linear time.

A1111 reads them with ``findall`` of
``\\s*(\\w[\\w \\-/]+):\\s*("(?:\\\\.|[^\\\\"])+"|[^,]*)(?:,|$)``.
That pattern backtracks quadratically on long text without a colon (100 KB: minutes): from
each start inside a run of key characters it rescans the whole run, and tries every shorter key.
:data:`PARAM` finds exactly the same pairs in one pass.
"""

from __future__ import annotations

import re

PARAM = re.compile(
    # A key: only at the start of a maximal run of key characters (word characters, spaces,
    # - and /), from the run's first word character to its end, at least two characters, then a
    # colon. Every start A1111 tries inside one run reaches the same run end, so trying the run's
    # start alone finds the same keys; possessive quantifiers (*+, ++) never backtrack.
    r"(?<![\w \-/])[ \-/]*+(\w[\w \-/]++):\s*+"
    # Its value: a JSON-style quoted string followed by a comma or the end, else everything up to
    # the next comma. A quoted scan stops at the next value's opening quote at the latest (a quote
    # after ": " is never escaped), so no character is scanned by more than two of them.
    r'("(?:\\.|[^\\"])++"|[^,]*+)(?:,|$)'
)


def param_pairs(line: str) -> list[tuple[str, str]]:
    """``[(key, raw value), ...]`` of one line, as A1111's ``RE_PARAM.findall(line)`` gives
    them, in time linear in ``len(line)``."""
    return PARAM.findall(line)
