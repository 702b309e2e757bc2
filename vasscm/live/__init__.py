"""The live shell: everything Kafka-, faust- or HTTP-shaped, thin around the pure core.

By role:

- :mod:`.app` makes the faust app and its :class:`~vasscm.live.stream.pipeline.Pipeline`;
- :mod:`.stream`: records in, the core's step, state and outputs out (the agents);
- :mod:`.delivery`: what a worker reads, writes and commits, and in which order;
- :mod:`.kafka`: faust and aiokafka as vasscm uses them (the internals it relies on,
  checked at start-up; the Tansu transport; credentials; the topic layout);
- :mod:`.http`: the web server, the dashboard, the lookups and the Prometheus metrics;
- :mod:`.dcsa_out`: DCSA milestones and estimates to webhook subscribers;
- :mod:`.tools`: the command-line tools around a worker (the embedded broker, the demo,
  ``produce``, ``simulate --feed``, ``archive``).
"""
