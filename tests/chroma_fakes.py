"""Small local HTTP servers for the Chroma tests: one that answers like some other server, and a proxy that asks
for a token before it lets a request through to a real Chroma server (the installed `chroma run` has no auth)."""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator

# answer(method, path, headers, body) -> (status, JSON-able body)
Answer = Callable[[str, str, dict, bytes], tuple[int, object]]


class _Handler(BaseHTTPRequestHandler):
    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {key.lower(): value for key, value in self.headers.items()}
        self.server.seen.append((self.command, self.path, headers))
        status, reply = self.server.answer(self.command, self.path, headers, body)
        data = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

    def log_message(self, *args) -> None:  # the test's output stays the test's
        pass


@contextlib.contextmanager
def serving(answer: Answer) -> Iterator[tuple[str, list]]:
    """(its URL, the (method, path, headers) of each request it got) of a server on a free local port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.answer, server.seen = answer, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.seen
    finally:
        server.shutdown()
        server.server_close()


def routes(table: dict[str, tuple[int, object]]) -> Answer:
    """Answers GET PATH from `table`, and 404 (as FastAPI says it) to anything else."""
    return lambda method, path, headers, body: table.get(path, (404, {"detail": "Not Found"}))


def token_proxy(upstream: str, token: str) -> Answer:
    """Lets through to `upstream` only the requests that carry `Authorization: Bearer TOKEN`, as a reverse proxy
    in front of a Chroma server does; the rest get 401."""
    host, port = upstream.rsplit("//", 1)[1].split(":")

    def answer(method, path, headers, body):
        if headers.get("authorization") != f"Bearer {token}":
            return 401, {"error": "AuthError", "message": "Unauthorized"}
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            connection.request(method, path, body=body or None,
                               headers={"Content-Type": headers.get("content-type", "application/json")})
            reply = connection.getresponse()
            return reply.status, reply.read()
        finally:
            connection.close()
    return answer
