"""Which alerts hold for a visit, and the alert records that report them (contract 4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from vasscm.durations import duration_text, from_ms, iso_ms
from vasscm.events import AlertKind, Severity, Stage
from vasscm.tracking.codes import GATE_OUT, TYPE_OF_CODE
from vasscm.tracking.policy import Policy
from vasscm.tracking.state import Book
from vasscm.tracking.visit import Visit

SEVERITY: Final = {
    AlertKind.EXIT_WITHOUT_RELEASE: Severity.CRITICAL,
    AlertKind.UNSCANNED_EXIT: Severity.CRITICAL,
    AlertKind.SEAL_MISMATCH: Severity.WARNING,
    AlertKind.STALLED: Severity.WARNING,
    AlertKind.LATE_REPORT: Severity.WARNING,
}


SEVERITY_TEXT: Final = {kind: severity.value for kind, severity in SEVERITY.items()}

#: An output record as plain data: JSON-ready values in the contract model's field
#: order, so ``orjson.dumps`` of it is what ``dump_json`` of the model writes.
Row: TypeAlias = dict[str, Any]

_EXITED: Final = Stage.EXITED


@dataclass(slots=True)
class AlertSpec:
    kind: AlertKind
    stage: Stage
    status: str  # "f" firing / "r" resolved
    since: int
    detail: str


def span(ms: int) -> str:
    return duration_text(ms / 1000)


def iso(ms: int) -> str:
    return from_ms(ms).isoformat(timespec="seconds").replace("+00:00", "Z")


def desired_alerts(v: Visit, now: int, policy: Policy) -> dict[str, AlertSpec]:
    """Which alerts hold for this visit given everything known, judged at ``now``.

    Only the current stage's stall depends on ``now``: the stages before it ended
    when the next began. Their judgement is kept on the visit (``Visit.judged``)
    until its timeline, direction or the policy changes, so an event that arrives in
    order judges one stage, not the visit's whole history again.
    """
    out: dict[str, AlertSpec] = {}
    if v.closed:
        _exit_alerts(v, policy, out)
    timeline = v.timeline
    if not timeline:
        return out
    last = len(timeline) - 1
    direction = v.direction
    judged = v.judged
    if judged is None or judged.direction != direction or judged.policy is not policy:
        judged = v.judged = _Judged(direction, policy)
    if judged.last != last:  # the timeline grew (it only ever does): judge the new past
        if judged.last > last:  # not reached (a visit's timeline only grows): start over
            judged.last, judged.stalls = -1, None
        begin = max(judged.last, 0)
        judged.stalls = _past_stalls(timeline, begin, last, direction, policy, judged.stalls)
        judged.last = last
        stage, start = timeline[last]
        limit_ms = None if stage is _EXITED else policy.stall_after(stage, direction)
        judged.stall_at = None if limit_ms is None else start + limit_ms
        judged.current = None
    if judged.stalls:
        out.update(judged.stalls)
    if judged.stall_at is not None and now > judged.stall_at:
        current = judged.current
        if current is None:
            stage, start = timeline[last]
            limit_ms = judged.stall_at - start
            text = _stalled_text(stage, limit_ms)
            current = judged.current = AlertSpec(AlertKind.STALLED, stage, "f", start, text)
        # Firing: it replaces a resolved stall of an earlier interval in this stage.
        out[f"STALLED/{current.stage}"] = current
    return out


class _Judged:
    """What :func:`desired_alerts` judged of a visit's timeline, kept on the visit while
    it cannot change (the same direction and policy; stages before ``last`` ended)."""

    __slots__ = ("current", "direction", "last", "policy", "stall_at", "stalls")

    def __init__(self, direction: str, policy: Policy) -> None:
        self.direction, self.policy = direction, policy
        self.last = -1  # timeline[last] is the current stage; -1: nothing judged yet
        self.stalls: dict[str, AlertSpec] | None = None  # of the stages before it
        self.stall_at: int | None = None  # the current stage stalls after this instant
        self.current: AlertSpec | None = None  # its firing stall, once made


def _past_stalls(
    timeline: list[tuple[Stage, int]],
    begin: int,
    last: int,
    direction: str,
    policy: Policy,
    out: dict[str, AlertSpec] | None,
) -> dict[str, AlertSpec] | None:
    """``out`` with the stalls of the stages ``timeline[begin:last]`` added (they have
    ended: all resolved, the first interval that stalled kept per stage); None while
    there are none (most visits: a dict each would be most of an open visit's memory)."""
    stall_after = policy.stall_after
    for i in range(begin, last):
        stage, start = timeline[i]
        if stage is _EXITED:
            continue
        limit_ms = stall_after(stage, direction)
        if limit_ms is None or timeline[i + 1][1] - start <= limit_ms:
            continue
        key = f"STALLED/{stage}"
        if out is None:
            out = {}
        if key not in out:
            out[key] = AlertSpec(
                AlertKind.STALLED, stage, "r", start, _stalled_text(stage, limit_ms)
            )
    return out


_STALLED_TEXT: dict[tuple[Stage, int], str] = {}


def _stalled_text(stage: Stage, limit_ms: int) -> str:
    text = _STALLED_TEXT.get((stage, limit_ms))
    if text is None:
        text = _STALLED_TEXT[stage, limit_ms] = f"in {stage} for more than {span(limit_ms)}"
    return text


def _exit_alerts(v: Visit, policy: Policy, out: dict[str, AlertSpec]) -> None:
    """What an exit alone decides: these do not depend on the clock."""
    assert v.exited is not None
    exited = v.exited
    if v.not_released:
        if v.suspended:
            why = "suspended"
        elif len(v.decls) > 1 and v.pending:  # contract 7.1: name what was missing
            why = f"not eligible (declarations not yet eligible: {', '.join(v.pending)})"
        else:
            why = "not eligible (no ELIGIBLE in force)"
        out["EXIT_WITHOUT_RELEASE/EXITED"] = AlertSpec(
            AlertKind.EXIT_WITHOUT_RELEASE, Stage.EXITED, "f", exited, f"exited while {why}"
        )
    if v.selected is not None and v.scanned is None:
        out["UNSCANNED_EXIT/EXITED"] = AlertSpec(
            AlertKind.UNSCANNED_EXIT,
            Stage.EXITED,
            "f",
            exited,
            f"selected for scan at {iso(v.selected)} and exited unscanned",
        )
    if v.exit_seal is not None and v.seal is not None and v.exit_seal != v.seal:
        out["SEAL_MISMATCH/EXITED"] = AlertSpec(
            AlertKind.SEAL_MISMATCH,
            Stage.EXITED,
            "f",
            exited,
            f"exit seal {v.exit_seal!r} differs from last known seal {v.seal!r}",
        )
    limit = policy.late_gate_out if v.exit_code == GATE_OUT else policy.late_loaded
    if v.exit_lag > limit:
        out["LATE_REPORT/EXITED"] = AlertSpec(
            AlertKind.LATE_REPORT,
            Stage.EXITED,
            "f",
            exited,
            f"{TYPE_OF_CODE[v.exit_code or GATE_OUT]} reported {span(v.exit_lag)} after it "
            f"occurred (deadline {span(limit)})",
        )


def emit_alerts(
    v: Visit, book: Book, desired: dict[str, AlertSpec], now: int, alerts: list[Row]
) -> None:
    """Append to ``alerts`` what changed against the book, and note it in the book."""
    noted = book.alerts
    for key, spec in desired.items():
        held = noted.get(key)
        if (
            held is not None
            and held[0] == spec.status
            and (held[1] == spec.since or held[0] == "r")
        ):
            continue
        noted[key] = [spec.status, spec.since]
        alerts.append(alert(v, spec, now))
    if len(noted) <= len(desired):
        return  # every noted key was among the desired (set above): none to resolve
    for key, held in noted.items():
        if held[0] == "f" and key not in desired:
            held[0] = "r"
            kind, stage = key.split("/", 1)
            spec = AlertSpec(
                AlertKind(kind),
                Stage(stage),
                "r",
                held[1],
                "no longer holds given later-arriving events",
            )
            alerts.append(alert(v, spec, now))


def alert(v: Visit, spec: AlertSpec, now: int) -> Row:
    """The alert record as plain data, in the contract's field order (:class:`Alert`)."""
    since = iso_ms(spec.since)
    return {
        "alert_id": f"{v.visit_id}/{spec.kind}/{spec.stage}",
        "kind": spec.kind.value,
        "severity": SEVERITY_TEXT[spec.kind],
        "status": "firing" if spec.status == "f" else "resolved",
        "container_no": v.container_no,
        "site": v.site,
        "direction": v.direction,
        "stage": spec.stage.value,
        "since": since,
        "detected_at": since if spec.since >= now else iso_ms(now),
        "detail": spec.detail,
        "visit_id": v.visit_id,
    }


def retired_alert(
    visit_id: str,
    kind: str,
    stage: str,
    since: int,
    now: int,
    visits: list[Visit],
    target: Book | None,
) -> Row:
    """The resolution of an alert raised under a visit id no longer in use."""
    v = visits[-1]
    for cand in visits:
        if target is not None and cand.visit_id == target.visit_id:
            v = cand
    return {
        "alert_id": f"{visit_id}/{kind}/{stage}",
        "kind": AlertKind(kind).value,
        "severity": SEVERITY_TEXT[AlertKind(kind)],
        "status": "resolved",
        "container_no": v.container_no,
        "site": v.site,
        "direction": v.direction,
        "stage": Stage(stage).value,
        "since": iso_ms(since),
        "detected_at": iso_ms(max(now, since)),
        "detail": f"visit re-identified as {v.visit_id}",
        "visit_id": visit_id,
    }
