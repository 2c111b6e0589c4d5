"""Seeing what the gateway and its plugins do (CONTRACT section 15): request ids
(:mod:`.request_ids`), Prometheus metrics (:mod:`.metrics`), the logs (:mod:`.logs`), the
per-request middleware tying them together (:mod:`.access`), registered as a pluggy plugin
on the ``gateway_wrap_app`` hook like any extension (:mod:`.hooks`), and the merged OpenAPI
document (:mod:`.openapi`)."""
