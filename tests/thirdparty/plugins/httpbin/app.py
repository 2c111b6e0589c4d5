"""httpbin (https://github.com/psf/httpbin), the Flask app, served unchanged as a plugin."""

from httpbin import app

__all__ = ["app"]
