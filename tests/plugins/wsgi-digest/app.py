"""A plain WSGI app answering the size and SHA-256 of the request body it read."""

import hashlib
import json


def app(environ, start_response):
    body = environ["wsgi.input"].read()
    answer = json.dumps({"size": len(body), "sha256": hashlib.sha256(body).hexdigest()})
    start_response("200 OK", [("Content-Type", "application/json")])
    return [answer.encode()]
