"""The faust application and its pipeline, created from the settings (one per process)."""

from __future__ import annotations

import faust

from vasscm.live.delivery import transport
from vasscm.live.http.server import WebServer
from vasscm.live.kafka import hooks, tansu
from vasscm.live.kafka.auth import faust_credentials
from vasscm.live.kafka.layout import Layout, plan
from vasscm.live.stream.pipeline import Pipeline
from vasscm.settings import Settings

__all__ = ["create_app"]


def create_app(settings: Settings, layout: Layout | None = None) -> tuple[faust.App, Pipeline]:
    """The app; ``layout`` from the topics that exist (vasscm.live.kafka.layout), else the
    settings' partition count for every topic."""
    hooks.check_classes()  # fail loudly, before anything starts, if faust changed
    layout = layout if layout is not None else plan({}, settings.partitions)
    on_tansu = settings.broker_flavour == "tansu"
    # The transport makes the producer too: faust's with a complete flush before each
    # commit, and a consumer that reads every record of its stream partitions in order
    # (vasscm.live.delivery); consumers on Tansu need a short fetch wait too
    # (vasscm.live.kafka.tansu).
    scheme = tansu.SCHEME if on_tansu else transport.SCHEME
    app = faust.App(
        "vasscm",
        broker=settings.broker,
        broker_credentials=faust_credentials(settings),
        broker_consumer=settings.broker.replace("kafka://", f"{scheme}://"),
        store=settings.store,
        datadir=str(settings.data_dir),
        web_host=settings.web_host,
        web_port=settings.web_port,
        # Our own web server (vasscm.live.http.server) answers from start-up, recovery included;
        # faust's would start only once tables are recovered (and binds 0.0.0.0 by
        # default). --web-bind/--web-port and VASSCM_WEB_HOST/PORT set where ours listens.
        web_enabled=False,
        web_bind=settings.web_host,
        autodiscover=False,
        topic_partitions=layout.partitions,
        topic_allow_declare=True,
        # Measured on Tansu: faust's default group timeouts took 32 s to the first
        # event; 6 s brings it to 4 s and still tolerates a busy worker.
        broker_session_timeout=6.0,
        broker_rebalance_timeout=6.0,
        broker_heartbeat_interval=1.0,
        producer_max_request_size=2 * settings.max_event_bytes + 4096,
        # Batched on Tansu too: its workers read true partition ends (vasscm.live.kafka.tansu).
        producer_max_batch_size=16384,
        consumer_max_fetch_size=4 * settings.max_event_bytes,
        table_cleanup_interval=60.0,
    )
    # faust's worker command turns its web stack back on (--with-web is its default):
    # the boot strategy's own switch wins over the setting.
    app.boot_strategy.enable_web = False
    pipeline = Pipeline(app, settings, layout)
    token = settings.web_token.get_secret_value() if settings.web_token else None
    web = WebServer(
        pipeline.lookups,
        app.conf,
        token=token,
        sites=pipeline.sites,
        language=settings.language,
        inbox=pipeline.dcsa_inbox,
        dcsa_site=settings.dcsa_site,
        subscriptions=pipeline.dcsa_out,
    )
    app.add_dependency(web)
    return app, pipeline
