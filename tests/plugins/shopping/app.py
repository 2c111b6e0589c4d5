from flask import Flask, jsonify, request

app = Flask(__name__)


@app.route("/", defaults={"rest": ""})
@app.route("/<path:rest>")
def anything(rest: str):
    return jsonify(plugin="shopping", rest=rest, script_name=request.script_root)
