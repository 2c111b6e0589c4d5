"""A plain WSGI plugin for the observability tests: echoes the request id it received."""

import json


def app(environ, start_response):
    if environ.get("PATH_INFO") == "/boom":
        raise RuntimeError("boom from the WSGI plugin")
    body = json.dumps({"request_id": environ.get("HTTP_X_REQUEST_ID")}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
