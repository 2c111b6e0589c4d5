"""The hello app in Flask: served by gunicorn, and copied as a gateway plugin's app.py.

The body is written out rather than built by ``jsonify`` (which appends a newline), so every
configuration of the benchmark answers the same bytes.
"""

from flask import Flask, Response

app = Flask(__name__)


@app.get("/")
def hello() -> Response:
    return Response(b'{"message":"hello"}', mimetype="application/json")
