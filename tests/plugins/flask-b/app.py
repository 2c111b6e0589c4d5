from flask import Flask, jsonify, session

app = Flask(__name__)
app.secret_key = "secret-b"


@app.get("/count")
def count():
    session["n"] = session.get("n", 0) + 1
    return jsonify(plugin="flask-b", n=session["n"])
