"""Settings: the one place that reads the environment (prefix ``VASSCM_``).

Durations accept seconds (``14400``) or ISO 8601 (``PT4H``). Per-stage stall
thresholds (contract section 4) have one setting each, e.g.
``VASSCM_STALL_AWAITING_RELEASE_IMPORT=PT36H``.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from vasscm.limits import MAX_EVENT_BYTES

if TYPE_CHECKING:  # the core, only when a policy is asked for (the report needs none)
    from vasscm.forecast import Forecaster
    from vasscm.tracking import Policy

__all__ = ["Settings", "bootstrap_servers", "get_settings"]


def _seconds_text(value: object) -> object:
    # Environment values are text: "14400" means seconds, like the number would.
    if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
        return float(value)
    return value


Duration = Annotated[timedelta, BeforeValidator(_seconds_text)]


def _ms(value: timedelta) -> int:
    return int(value.total_seconds() * 1000)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VASSCM_", extra="ignore", frozen=True)

    # --- where things are
    broker: str = Field(
        default="kafka://127.0.0.1:9092",
        description="Kafka bootstrap URL(s), faust style: kafka://host:port[;host:port]",
    )
    web_host: str = Field(
        default="127.0.0.1", description="bind address of the worker's web server"
    )
    web_port: int = Field(default=6066, ge=0, le=65535)
    data_dir: Path = Field(default=Path("vasscm-data"), description="worker state (RocksDB tables)")
    broker_flavour: Literal["kafka", "tansu"] = Field(
        default="kafka",
        description="tansu: work around Tansu 0.6 (a fetch held for its whole maximum wait; "
        "a partition's end reported as the base offset of its last batch + 1, where "
        "faust's table recovery would stop): a short fetch wait, and partition ends read "
        "from the last batch itself",
    )
    store: str = Field(
        default="rocksdb://", description="faust table store: rocksdb:// or memory://"
    )

    # --- what people read
    language: Literal["vi", "en"] = Field(
        default="vi",
        description="language of the report and the dashboard when none is asked for "
        "(the dashboard follows the browser's language first)",
    )
    sites_file: Path | None = Field(
        default=None,
        description="site registry replacing the packaged one (vasscm/data/sites.toml): "
        "names, kind, customs branch and time zone of each site code",
    )
    partitions: int = Field(
        default=8, ge=1, le=1024, description="partitions of the topics vasscm creates"
    )
    max_event_bytes: int = Field(default=MAX_EVENT_BYTES, ge=1024)
    report_memory: str = Field(
        default="512MB",
        pattern=r"^\s*\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$",
        description="vasscm report and vasscm archive: DuckDB's memory limit (e.g. 512MB, "
        "2GiB); sorts and tables beyond it spill to a temporary directory",
    )
    # --- vasscm archive: vasscm.clearances into monthly Parquet files
    archive_group: str = Field(
        default="vasscm-archive",
        min_length=1,
        description="consumer group of vasscm archive (its committed offsets say what is archived)",
    )
    archive_flush_records: int = Field(
        default=100_000,
        ge=1,
        le=10_000_000,
        description="vasscm archive writes its month files once this many records were "
        "read since it last did (a flush rewrites a month file: about 5 s for a "
        "national system's month of 1M records)",
    )
    archive_flush_interval: Duration = Field(
        default=timedelta(minutes=5),
        description="... or once the oldest record not yet written was read this long ago",
    )
    metrics_max_sites: int = Field(
        default=64,
        ge=1,
        le=10_000,
        description="distinct site labels a worker's metrics admit; later ones count as "
        "'other' (a site comes from events, and labels must stay of low cardinality)",
    )

    # --- stall thresholds (contract section 4)
    stall_awaiting_scan: Duration = timedelta(hours=4)
    stall_awaiting_release_import: Duration = timedelta(hours=48)
    stall_awaiting_release_export: Duration = timedelta(hours=24)
    stall_released: Duration = timedelta(hours=72)
    stall_held: Duration = timedelta(hours=24)
    stall_suspended: Duration = timedelta(hours=24)
    stall_expected: Duration = timedelta(days=7)
    stall_clock: Literal["wall", "event"] = Field(
        default="wall",
        description="what 'now' is for stall checks: the wall clock, or the latest event time "
        "seen (for replays of recorded logs and simulated ports)",
    )

    arrival_grace: Duration = Field(
        default=timedelta(milliseconds=100),
        description="a customs partition the fan-out found with nothing left to read holds "
        "back no record read this long before (time for a customs event produced earlier "
        "to be fetched by whichever worker fans it out): with mark_interval, how long a "
        "record waits on an idle customs partition (contract 7.3)",
    )
    mark_interval: Duration = Field(
        default=timedelta(milliseconds=100),
        description="how often the fan-out tells every tracker partition how far each "
        "customs partition is fanned out (vasscm.live.stream.marks)",
    )
    stall_check_interval: Duration = Field(
        default=timedelta(seconds=1), description="how often the deadline index is checked"
    )

    # --- reporting deadlines (Art. 52 / 52a)
    late_gate_out: Duration = Field(
        default=timedelta(minutes=15),
        description="GATE_OUT of an import (or of a visit of unknown direction) reported "
        "within this (Art. 52)",
    )
    late_gate_out_export: Duration = Field(
        default=timedelta(minutes=30),
        description="GATE_OUT of an export, a truck passing a land border's supervision "
        "area, reported within this (contract 7.2)",
    )
    late_loaded: Duration = Field(
        timedelta(minutes=30),
        description="LOADED reported within this of its voyage's VESSEL_DEPARTED "
        "(Art. 52a, contract 7.2)",
    )
    dcsa_site: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,31}$",
        description="the site of DCSA events whose UN/LOCODE the site registry does not "
        "know (a terminal feeding one site)",
    )
    notice_expected: Duration = Field(
        timedelta(hours=8),
        description="EXPECTED (form 01) due at least this before the vessel's arrival "
        "(contract 7.2)",
    )
    notice_scan_selected: Duration = Field(
        timedelta(hours=4),
        description="SCAN_SELECTED (form 03) due at least this before the vessel's arrival "
        "(contract 7.2)",
    )
    # --- DCSA out: milestones to webhook subscribers (vasscm.live.dcsa_out.webhooks)
    dcsa_out: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="the customs milestones feed (vasscm.container-state to vasscm.dcsa-out): "
        "auto runs it once a webhook subscription exists, on always, off never (no "
        "deliveries then)",
    )
    webhook_timeout: Duration = Field(
        default=timedelta(seconds=10), description="a delivery not answered in this failed"
    )
    webhook_retry_max: Duration = Field(
        default=timedelta(seconds=60),
        description="longest wait between two tries of a failing delivery (doubling from 0.5 s)",
    )
    webhook_pause_after: Duration = Field(
        default=timedelta(minutes=10),
        description="a subscriber failing this long is paused: tried once per "
        "webhook_paused_retry, until a delivery succeeds",
    )
    webhook_paused_retry: Duration = Field(
        default=timedelta(minutes=5), description="how often a paused subscriber is tried"
    )
    webhook_batch: int = Field(
        default=100, ge=1, le=1000, description="most events in one delivery"
    )

    # --- forecasts for open visits (contract 8.2, vasscm.forecast)
    forecast_window: Duration = Field(
        default=timedelta(days=28),
        description="forecasts learn from the visits that arrived this far back in event time",
    )
    forecast_min_basis: int = Field(
        default=30,
        ge=1,
        le=100_000,
        description="completed visits a forecast must rest on before it conditions on the "
        "site and channel (else it widens to the direction, then to everything)",
    )
    forecast_refresh: Duration = Field(
        default=timedelta(seconds=60),
        description="how often a worker rebuilds its forecast curves from what it learned "
        "and the open visits it holds, and its late list",
    )
    dcsa_est_move: Duration = Field(
        default=timedelta(minutes=30),
        description="an estimated exit (DCSA EST GTOT/LOAD) is sent again only when its "
        "median moves by more than this",
    )

    # --- how long a closed visit still takes late events
    late_event_retention: Duration = timedelta(days=7)
    max_future_skew: Duration = Field(
        default=timedelta(hours=1),
        description="an event dated more than this after it was received (the Kafka record "
        "timestamp) is dead-lettered as 'future': a producer's clock is wrong",
    )

    # --- security: the web server binds loopback unless told otherwise (web_host)
    web_token: SecretStr | None = Field(
        default=None,
        description="bearer token every web endpoint but /healthz requires "
        "(Authorization: Bearer ..., or the dashboard's cookie set by /?token=...)",
    )
    broker_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="how Kafka clients connect to the brokers"
    )
    broker_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    broker_sasl_username: str | None = None
    broker_sasl_password: SecretStr | None = None
    broker_ssl_cafile: Path | None = Field(
        default=None, description="CA bundle to verify the brokers (default: the system's)"
    )
    broker_ssl_certfile: Path | None = Field(default=None, description="client certificate")
    broker_ssl_keyfile: Path | None = Field(default=None, description="client certificate key")

    @model_validator(mode="after")
    def _broker_security(self) -> Settings:
        if self.broker_security_protocol.startswith("SASL") and not (
            self.broker_sasl_username and self.broker_sasl_password
        ):
            raise ValueError(
                f"broker_security_protocol={self.broker_security_protocol} needs "
                "VASSCM_BROKER_SASL_USERNAME and VASSCM_BROKER_SASL_PASSWORD"
            )
        if (self.broker_ssl_certfile is None) != (self.broker_ssl_keyfile is None):
            raise ValueError("VASSCM_BROKER_SSL_CERTFILE and _KEYFILE go together")
        for name in ("broker_ssl_cafile", "broker_ssl_certfile", "broker_ssl_keyfile"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"VASSCM_{name.upper()}: no such file {str(path)!r}")
        return self

    def forecaster(self) -> Forecaster:
        """A forecaster with these settings (contract 8.2)."""
        from vasscm.forecast import Forecaster

        return Forecaster(window_ms=_ms(self.forecast_window), min_basis=self.forecast_min_basis)

    def policy(self) -> Policy:
        """The thresholds as the pure tracking core takes them."""
        from vasscm.tracking import Policy

        stall = {
            "AWAITING_SCAN": _ms(self.stall_awaiting_scan),
            "AWAITING_RELEASE:import": _ms(self.stall_awaiting_release_import),
            "AWAITING_RELEASE:export": _ms(self.stall_awaiting_release_export),
            "AWAITING_RELEASE": _ms(self.stall_awaiting_release_import),
            "RELEASED": _ms(self.stall_released),
            "HELD": _ms(self.stall_held),
            "SUSPENDED": _ms(self.stall_suspended),
            "EXPECTED": _ms(self.stall_expected),
        }
        return Policy(
            stall=stall,
            late_gate_out=_ms(self.late_gate_out),
            late_gate_out_export=_ms(self.late_gate_out_export),
            late_loaded=_ms(self.late_loaded),
            notice_expected=_ms(self.notice_expected),
            notice_scan_selected=_ms(self.notice_scan_selected),
            retention=_ms(self.late_event_retention),
            future_skew=_ms(self.max_future_skew),
        )


def bootstrap_servers(url: str) -> str:
    """``kafka://a:9092;b:9092`` (faust's form) -> ``a:9092,b:9092`` (Kafka clients')."""
    hosts = [p.strip().split("://", 1)[-1].strip("/") for p in url.replace(",", ";").split(";")]
    return ",".join(h for h in hosts if h)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
