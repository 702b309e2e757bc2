"""Event types as the core codes them: one small integer per contract type.

The code is also a rank: events that share an instant sort by it, arrivals first and
exits last, so an exit at the same millisecond as an ``ELIGIBLE`` sees it, and a
cancellation at the same instant as an ``ELIGIBLE`` wins. The codes are stored in
every container state (the table, the changelog): never renumber them.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final


class Code(IntEnum):
    EXPECTED = 0
    DISCHARGED = 1
    GATE_IN = 2
    CHANNEL_ASSIGNED = 3
    SCAN_SELECTED = 4
    SCANNED = 5
    SEAL_CHANGED = 6
    DISCREPANCY = 7
    ELIGIBLE = 8
    SUSPENDED = 9
    RESUMED = 10
    ELIGIBILITY_CANCELLED = 11
    GATE_OUT = 12
    LOADED = 13


CODE_OF_TYPE: Final = {c.name: c.value for c in Code}
TYPE_OF_CODE: Final = {c.value: c.name for c in Code}

# Plain ints for the loops that run at every event: reading an enum member costs
# about 13 times reading an int constant in CPython 3.11.
EXPECTED: Final = Code.EXPECTED.value
DISCHARGED: Final = Code.DISCHARGED.value
GATE_IN: Final = Code.GATE_IN.value
CHANNEL_ASSIGNED: Final = Code.CHANNEL_ASSIGNED.value
SCAN_SELECTED: Final = Code.SCAN_SELECTED.value
SCANNED: Final = Code.SCANNED.value
DISCREPANCY: Final = Code.DISCREPANCY.value
ELIGIBLE: Final = Code.ELIGIBLE.value
SUSPENDED: Final = Code.SUSPENDED.value
RESUMED: Final = Code.RESUMED.value
ELIGIBILITY_CANCELLED: Final = Code.ELIGIBILITY_CANCELLED.value
GATE_OUT: Final = Code.GATE_OUT.value
LOADED: Final = Code.LOADED.value

ARRIVALS: Final = frozenset({DISCHARGED, GATE_IN})
EXITS: Final = frozenset({GATE_OUT, LOADED})
#: Customs' notices, due a lead time before the vessel's arrival (contract 7.2).
NOTICES: Final = frozenset({EXPECTED, SCAN_SELECTED})
#: The events that name a deciding declaration (contract 7.1).
DECISIONS: Final = frozenset({CHANNEL_ASSIGNED, ELIGIBLE, SUSPENDED, ELIGIBILITY_CANCELLED})
