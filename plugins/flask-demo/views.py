from flask import Blueprint, jsonify

bp = Blueprint("views", __name__)


@bp.get("/hello/<who>")
def hello(who: str):
    return jsonify(message=f"hello {who}")
