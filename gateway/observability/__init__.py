"""Seeing what the gateway and its plugins do: logging (and, built on the
``gateway_wrap_app`` hook, request ids and metrics)."""
