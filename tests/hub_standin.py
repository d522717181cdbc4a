"""A local stand-in for the Hugging Face Hub: a real HTTP server on 127.0.0.1 that answers the requests
`huggingface_hub.hf_hub_download` makes (see ../shared/reference/hub-protocol.md), records every request,
and can drop a connection mid-file once to test resuming."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import attrs


@attrs.define
class Request:
    method: str
    path: str
    range: str | None


@attrs.define
class FakeHub:
    # repo id -> commit -> filename -> bytes
    repos: dict[str, dict[str, dict[str, bytes]]] = attrs.field(factory=dict)
    requests: list[Request] = attrs.field(factory=list)
    drop_after: dict[str, int] = attrs.field(factory=dict)  # filename -> bytes sent before hanging up (once)
    pause: float = 0.0  # seconds each file's body waits after its headers (a slow link: progress can be seen)
    endpoint: str = ""

    def add(self, repo_id: str, commit: str, files: dict[str, bytes]) -> None:
        self.repos.setdefault(repo_id, {})[commit] = dict(files)

    def gets(self, filename: str) -> list[Request]:
        return [r for r in self.requests if r.method == "GET" and r.path.endswith("/" + filename)]


_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<revision>[^/]+)/(?P<filename>.+)$")


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _error(self, code: str) -> None:
            message = f"{code} (stand-in Hub)".encode()
            self.send_response(404)
            self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(message)))
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(message)

        def _answer(self, body: bool) -> None:
            hub.requests.append(Request(self.command, self.path, self.headers.get("Range")))
            match = _RESOLVE.match(self.path.split("?")[0])
            if not match:
                return self._error("RepoNotFound")
            repo = hub.repos.get(match["repo"])
            if repo is None:
                return self._error("RepoNotFound")
            files = repo.get(match["revision"])
            if files is None:
                return self._error("RevisionNotFound")
            data = files.get(match["filename"])
            if data is None:
                return self._error("EntryNotFound")
            start = 0
            ranged = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
            if ranged and body:
                start = int(ranged[1])
            self.send_response(206 if start else 200)
            self.send_header("X-Repo-Commit", match["revision"])
            self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(data) - start))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if not body:
                return None
            time.sleep(hub.pause)
            drop = hub.drop_after.pop(match["filename"], None)
            if drop is not None and drop > start:
                self.wfile.write(data[start:drop])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)  # hang up mid-file, as a flaky network does
                return None
            self.wfile.write(data[start:])
            return None

    return Handler


@contextmanager
def serve(hub: FakeHub) -> Iterator[FakeHub]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    hub.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
