"""Which alerts hold for a visit, and the alert records that report them (contract 4)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from vasscm.durations import duration_text, from_ms, iso_ms
from vasscm.events import AlertKind, Severity, Stage
from vasscm.tracking.codes import EXPECTED, GATE_OUT, SCAN_SELECTED
from vasscm.tracking.obligations import Obligation
from vasscm.tracking.policy import Policy
from vasscm.tracking.state import Book
from vasscm.tracking.visit import Visit

SEVERITY: Final = {
    AlertKind.EXIT_WITHOUT_RELEASE: Severity.CRITICAL,
    AlertKind.UNSCANNED_EXIT: Severity.CRITICAL,
    AlertKind.SEAL_MISMATCH: Severity.WARNING,
    AlertKind.STALLED: Severity.WARNING,
    AlertKind.LATE_REPORT: Severity.WARNING,
    AlertKind.LATE_NOTICE: Severity.WARNING,
}


SEVERITY_TEXT: Final = {kind: severity.value for kind, severity in SEVERITY.items()}

#: An output record as plain data: JSON-ready values in the contract model's field
#: order, so ``orjson.dumps`` of it is what ``dump_json`` of the model writes.
Row: TypeAlias = dict[str, Any]


@dataclass(slots=True)
class AlertSpec:
    kind: AlertKind
    stage: Stage
    status: str  # "f" firing / "r" resolved
    since: int
    # The text, or what writes it: judged at every event, an alert is written only when
    # it changes, so a text that costs formatting is made then (a late report's).
    detail: str | Callable[[], str]


def span(ms: int) -> str:
    return duration_text(ms / 1000)


def iso(ms: int) -> str:
    return from_ms(ms).isoformat(timespec="seconds").replace("+00:00", "Z")


def desired_alerts(
    v: Visit, now: int, policy: Policy, duties: Sequence[Obligation] = ()
) -> dict[str, AlertSpec]:
    """Which alerts hold for this visit given everything known, judged at ``now``;
    ``duties``: its obligations (vasscm.tracking.obligations: the caller has them
    for the record too).

    (Keeping the judgement of the stages before the current one on the visit, which
    no clock changes, was tried: no faster measurably, and 17 MiB more at 64,000 open
    visits.)
    """
    out: dict[str, AlertSpec] = {}
    if v.exited is not None:  # (closed, without the property call)
        _exit_alerts(v, out)
    for duty in duties:
        if not duty.on_time:
            _late(v, duty, out)
    timeline = v.timeline
    last = len(timeline) - 1
    limits = policy.stall_limits(v.direction)
    for i, (stage, start) in enumerate(timeline):
        limit_ms = limits[stage]
        if limit_ms is None:  # EXITED, or no limit set
            continue
        current = i == last
        end = now if current else timeline[i + 1][1]
        if end - start <= limit_ms:
            continue
        key = STALLED_KEY[stage]
        prior = out.get(key)
        if prior is not None and (prior.status == "f" or not current):
            continue  # keep the first interval that stalled; a firing one wins
        status = "f" if current else "r"
        out[key] = AlertSpec(
            AlertKind.STALLED, stage, status, start, _stalled_text(stage, limit_ms)
        )
    return out


#: A stall's key in the books, by stage: "STALLED/<stage>".
STALLED_KEY: Final = {stage: f"STALLED/{stage}" for stage in Stage}
_STALLED_TEXT: dict[tuple[Stage, int], str] = {}


def _stalled_text(stage: Stage, limit_ms: int) -> str:
    text = _STALLED_TEXT.get((stage, limit_ms))
    if text is None:
        text = _STALLED_TEXT[stage, limit_ms] = f"in {stage} for more than {span(limit_ms)}"
    return text


def _exit_alerts(v: Visit, out: dict[str, AlertSpec]) -> None:
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


#: The stage a late notice is raised on: the one its form concerns.
_NOTICE_STAGE: Final = {EXPECTED: Stage.EXPECTED, SCAN_SELECTED: Stage.AWAITING_SCAN}
_FORM: Final = {EXPECTED: "form 01", SCAN_SELECTED: "form 03"}


def _late(v: Visit, duty: Obligation, out: dict[str, AlertSpec]) -> None:
    """The alert of an obligation not met (contract 7.2)."""
    if duty.party == "port":
        assert v.exited is not None
        out["LATE_REPORT/EXITED"] = AlertSpec(
            AlertKind.LATE_REPORT, Stage.EXITED, "f", v.exited, lambda: _late_text(duty)
        )
        return
    stage = _NOTICE_STAGE[duty.form]
    out[f"LATE_NOTICE/{stage}"] = AlertSpec(
        AlertKind.LATE_NOTICE, stage, "f", duty.received, lambda: _late_text(duty)
    )


def _late_text(duty: Obligation) -> str:
    if duty.party == "port":
        limit = span(duty.due - duty.reference)
        late = span(duty.received - duty.reference)
        if duty.form == GATE_OUT:
            return f"GATE_OUT reported {late} after it occurred (deadline {limit})"
        return (
            f"{duty.type} reported {late} after its vessel departed at "
            f"{iso(duty.reference)} (voyage {duty.voyage}; deadline {limit})"
        )
    lead = duty.reference - duty.received
    when = f"{span(lead)} before" if lead >= 0 else f"{span(-lead)} after"
    what = (
        f"the discharge at {iso(duty.reference)}"
        if duty.voyage is None
        else f"the vessel's estimated arrival at {iso(duty.reference)} (voyage {duty.voyage})"
    )
    return (
        f"{duty.type} ({_FORM[duty.form]}) received {when} {what}; due at least "
        f"{span(duty.reference - duty.due)} before"
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
        "detail": spec.detail if isinstance(spec.detail, str) else spec.detail(),
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
