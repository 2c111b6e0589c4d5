"""Example Flask plugin (no manifest: the framework is recognised from `app`).

Shows url_for and redirects under the gateway's prefix and a session cookie.
"""

from flask import Flask, jsonify, redirect, session, url_for

from . import views

app = Flask(__name__)
app.secret_key = "change-me: example only"
app.register_blueprint(views.bp)


@app.get("/")
def index():
    return jsonify(plugin="flask-demo", framework="flask", hello_url=url_for("views.hello", who="world"))


@app.get("/go")
def go():
    return redirect(url_for("index"))


@app.get("/visits")
def visits():
    session["visits"] = session.get("visits", 0) + 1
    return jsonify(visits=session["visits"])
