"""The tracking core: container visits, stages, segments and alerts (contract 3 and 4).

Pure Python: no Kafka, faust, aiohttp or Prometheus, no clock and no environment.
The live agents and ``vasscm replay`` both call :func:`apply` and :func:`check`, so
they agree by construction.

Where to read first
    :mod:`.stages` is the state machine of a visit; :mod:`.visit` derives a visit
    from its events; :mod:`.alerts` judges which alerts hold; :mod:`.core` applies an
    event and emits what changed (:mod:`.emission` keeps the books of what went out);
    :mod:`.state` is what is stored per container; :mod:`.views` what people see.

How it stays order-independent
    A container's state keeps the compact events of its recent visits (a visit is
    ~10 events, well under 1 KiB serialised). Everything else, the split into
    visits, stages, segments and which alerts hold, is *derived* from those events
    sorted by event time. So the same set of events gives the same visits whatever
    order they arrived in; only what was *emitted* along the way (revisions,
    transient alerts later resolved) remembers the arrival order. An event that
    arrives in order extends the open visit's derivation instead of starting it over
    (:class:`.visit.Fold`): the same steps, so the same visit.

Visit boundaries
    A visit ends at an exit (``GATE_OUT``/``LOADED``); an event that occurred after
    it starts the next visit. The last closed visit is kept so a late event can
    revise its record; older ones are dropped and everything at or before their exit
    is then refused as stale. A closed visit is forgotten ``retention`` after exit.

Identity
    ``visit_id`` is the container number and the arrival instant, or the earliest
    known event until the arrival is known. When a late arrival changes it, the new
    record lists the old id in ``supersedes`` and alerts under the old id resolve.
"""

from vasscm.tracking.alerts import SEVERITY
from vasscm.tracking.calls import Call
from vasscm.tracking.core import apply, check, learn, next_deadline, next_deadline_ms, resend
from vasscm.tracking.emission import Effects
from vasscm.tracking.policy import DEFAULT_POLICY, Policy
from vasscm.tracking.state import ContainerState
from vasscm.tracking.views import (
    current_view,
    latest_stage,
    open_row,
    published_records,
    timelines,
)

__all__ = [
    "DEFAULT_POLICY",
    "SEVERITY",
    "Call",
    "ContainerState",
    "Effects",
    "Policy",
    "apply",
    "check",
    "current_view",
    "latest_stage",
    "learn",
    "next_deadline",
    "next_deadline_ms",
    "open_row",
    "published_records",
    "resend",
    "timelines",
]
