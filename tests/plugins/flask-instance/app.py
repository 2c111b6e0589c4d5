"""A Flask app that keeps a file in its instance folder, as the Flask tutorial's does."""

import os

from flask import Flask, jsonify

app = Flask(__name__, instance_relative_config=True)
os.makedirs(app.instance_path, exist_ok=True)
with open(os.path.join(app.instance_path, "created-at-import.txt"), "w") as f:
    f.write("flask-instance")


@app.get("/")
def where():
    return jsonify(instance_path=app.instance_path, root_path=app.root_path)
