"""The review page (`contrastgen review`): Flask serves one static page and a small JSON
API over a ReviewSession (review.py), on 127.0.0.1 unless the user names another host.

Flask (with its Werkzeug server) because it is the smallest well-kept Python web
framework that needs no build step and works offline; one person labelling on their own
machine needs nothing the development server lacks (docs/ARCHITECTURE.md, "Review").
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from contrastgen.errors import UserError
from contrastgen.validation.review import ReviewSession

PAGE = Path(__file__).with_name("review_page.html")


LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1"}


def create_app(session: ReviewSession, loopback_only: bool = True):
    from flask import Flask, jsonify, request

    app = Flask(__name__)

    @app.before_request
    def local_names_only():
        # A page bound to 127.0.0.1 answers only to local names: another site's page
        # that rebinds its own name to 127.0.0.1 cannot read or post labels.
        if loopback_only and urlsplit("//" + request.host).hostname not in LOOPBACK_NAMES:
            return jsonify(error="this page answers only to 127.0.0.1 and localhost"), 403
        return None

    @app.errorhandler(OSError)
    def not_saved(exc: OSError):
        # a label that could not be written (a full disk): the page says so, in words
        return jsonify(error=str(exc)), 500

    @app.get("/")
    def page():
        return PAGE.read_text(encoding="utf-8"), 200, {"Content-Type": "text/html; charset=utf-8"}

    @app.get("/api/state")
    def state():
        return jsonify(session.state())

    @app.post("/api/label")
    def label():
        body = request.get_json(silent=True) or {}
        key, value, note = body.get("key"), body.get("label"), body.get("note", "")
        if not isinstance(value, bool) or not isinstance(note, str):
            return jsonify(error="label must be true or false, note a string"), 400
        try:
            return jsonify(session.label(key, value, note))
        except KeyError:
            return jsonify(error=f"no pair {key!r} on this page"), 404

    return app


def listen(session: ReviewSession, host: str, port: int):
    """A Werkzeug server for the page, bound but not yet serving; a port in use or a
    host that cannot be bound is a one-line UserError."""
    from werkzeug.serving import make_server

    # Werkzeug prints its own bind errors and exits: bind a probe first for our message.
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(info[0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(info[4])
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UserError(f"port {port} on {host} is in use; pass another --port") from None
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return make_server(host, port, create_app(session, _loopback(host)), threaded=True)


def serve(session: ReviewSession, host: str, port: int, say: Callable[[str], None]) -> None:
    """Serve the page until Ctrl-C (or SIGTERM), saying where and to whom it listens."""
    server = listen(session, host, port)
    url = f"http://{host}:{server.server_port}/"
    say(f"review: {url}  (labels are saved to {session.store.path} as you give them)")
    if _loopback(host):
        say(f"review: listening on {host} only: no other machine can open the page")
    else:
        say(f"review: listening on {host}: other machines that reach this one can open it")
    try:
        server.serve_forever()
    finally:
        server.server_close()


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
