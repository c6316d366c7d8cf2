"""A stand-in for a clinic's FHIR server, started by a test: a small ASGI app under uvicorn in a thread, on a free
port. It stores every Bundle POSTed to its base and answers like a FHIR server: 201 Created with a Location
header (and a transaction-response Bundle), or the failure statuses a test scripts first (to exercise retries)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn


class FhirEndpoint:
    def __init__(self) -> None:
        self.base = ""
        self.received: list[dict] = []  # the Bundles accepted (201)
        self.requests: list[tuple[str, str, str]] = []  # (method, path, content-type) of every request
        self.script: list[int] = []  # statuses to answer before accepting again (e.g. [503, 500])

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body, more = b"", True
        while more:
            msg = await receive()
            body += msg.get("body", b"")
            more = msg.get("more_body", False)
        headers = dict(scope["headers"])
        self.requests.append((scope["method"], scope["path"], headers.get(b"content-type", b"").decode()))
        status = self.script.pop(0) if self.script else 201
        out = [(b"content-type", b"application/fhir+json")]
        if status == 201 and scope["method"] == "POST":
            self.received.append(json.loads(body))
            n = len(self.received)
            out.append((b"location", f"{self.base}/Bundle/{n}/_history/1".encode()))
            reply = {
                "resourceType": "Bundle",
                "id": str(n),
                "type": "transaction-response",
                "entry": [{"response": {"status": "201 Created"}} for _ in json.loads(body).get("entry", [])],
            }
        else:
            status = status if status != 201 else 405
            reply = {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "error", "code": "exception", "diagnostics": f"scripted {status}"}],
            }
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": json.dumps(reply).encode()})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_endpoint() -> Iterator[FhirEndpoint]:
    endpoint = FhirEndpoint()
    port = free_port()
    endpoint.base = f"http://127.0.0.1:{port}/fhir"
    server = uvicorn.Server(uvicorn.Config(endpoint, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.025)
        assert server.started, "the test FHIR endpoint did not start"
        yield endpoint
    finally:
        server.should_exit = True
        thread.join(10)
