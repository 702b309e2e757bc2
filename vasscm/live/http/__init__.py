"""What people and Prometheus read from a worker: :mod:`.server` (routes, the
dashboard in ``dashboard/``, documented in ``openapi.yaml``), :mod:`.lookups` (read-only
views over the worker's state), :mod:`.metrics` and :mod:`.gauges` (Prometheus)."""
