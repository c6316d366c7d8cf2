"""A local HTTP endpoint that answers like DHIS2's ``POST /api/dataValueSets`` (an import summary), for push tests.

``mode``: ``ok`` (200, SUCCESS, every value imported), ``warning`` (200, WARNING, one value ignored),
``conflict`` (409, ERROR, like DHIS2 2.38+ on a rejected payload), ``unauthorized`` (401), ``error`` (500),
``slow`` (answers after ``delay`` seconds, past the client's timeout)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeDhis2:
    def __init__(self, mode: str = "ok", delay: float = 2.0) -> None:
        self.mode, self.delay = mode, delay
        self.requests: list[dict] = []  # path, headers, body of every request received
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                n = len(body.get("dataValues", []))
                if fake.mode == "slow":
                    time.sleep(fake.delay)
                status, answer = fake.answer(n)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, n: int) -> tuple[int, dict]:
        def summary(status: str, imported: int, ignored: int, conflicts: list) -> dict:
            return {
                "httpStatus": "OK" if status != "ERROR" else "Conflict",
                "httpStatusCode": 200 if status != "ERROR" else 409,
                "status": status,
                "message": "Import was successful." if status == "OK" else "One more conflicts encountered",
                "response": {
                    "responseType": "ImportSummary",
                    "status": "SUCCESS" if status == "OK" else status,
                    "description": "Import process completed successfully"
                    if status == "OK"
                    else "Import process completed with conflicts",
                    "importCount": {"imported": imported, "updated": 0, "ignored": ignored, "deleted": 0},
                    "conflicts": conflicts,
                },
            }

        if self.mode == "ok" or self.mode == "slow":
            return 200, summary("OK", n, 0, [])
        if self.mode == "warning":
            return 200, summary("WARNING", max(n - 1, 0), 1, [{"object": "x", "value": "Period not open"}])
        if self.mode == "conflict":
            return 409, summary("ERROR", 0, n, [{"object": "dataElement", "value": "not found"}])
        if self.mode == "unauthorized":
            return 401, {
                "httpStatus": "Unauthorized",
                "httpStatusCode": 401,
                "status": "ERROR",
                "message": "Unauthorized",
            }
        return 500, {
            "httpStatus": "Internal Server Error",
            "httpStatusCode": 500,
            "status": "ERROR",
            "message": "Internal error",
        }

    def __enter__(self) -> FakeDhis2:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
