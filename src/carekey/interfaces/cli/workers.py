"""``carekey serve --workers N``: N uvicorn worker processes, each listening on a socket of its own.

uvicorn's own workers share one listening socket, and whichever worker wakes first accepts every connection
waiting: a burst of keep-alive connections (a reverse proxy's pool, the clients of a screening day starting
together) all lands on one worker, which then serves them alone on one core while the others idle (issue 21:
8 clients, 2 workers, ~90 % of the requests in one worker). Here every worker binds its own socket to the same
address with ``SO_REUSEPORT`` and the kernel spreads new connections over them (by a hash of the connection's
addresses and ports). Linux only lets sockets of the same user join such a group.

A worker's socket is bound at once but listens only when its app has started (uvicorn calls ``listen`` after the
lifespan start-up): the kernel hands connections to ready workers only, also while one restarts. The parent holds
the address with a bound socket that never listens (so the port stays taken while a worker restarts, and port 0
picks one port for all), starts the workers (``spawn``), replaces a worker that dies, and stops them all on
SIGINT / SIGTERM. A worker that cannot start (uvicorn's exit code 3) stops the server.
Written by hand: uvicorn's supervisor passes one shared socket to its workers and has no option for this.
"""

from __future__ import annotations

import logging
import logging.config
import multiprocessing
import os
import signal
import socket
import threading
import time
from typing import Any

STARTUP_FAILURE = 3  # uvicorn's exit code for a server that could not start
log = logging.getLogger("uvicorn.error")


def listening_socket(host: str, port: int, listen: bool = False) -> socket.socket:
    """A TCP socket bound to (host, port) in the ``SO_REUSEPORT`` group of that address, listening if ``listen``
    (a worker's socket is left for uvicorn to listen on once the app has started; the parent's never listens)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
        if listen:
            sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def serve_one(options: dict[str, Any], host: str, port: int, parent: int) -> None:
    """One worker process: the app of ``serving.worker_app`` on a socket of its own; it ends if the parent dies
    (killed with no chance to stop its workers, which would otherwise keep serving the data folder)."""
    import uvicorn

    def orphaned() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=orphaned, daemon=True, name="carekey-parent-watch").start()
    config = uvicorn.Config("carekey.interfaces.cli.serving:worker_app", factory=True, **options)
    uvicorn.Server(config).run(sockets=[listening_socket(host, port)])


def run(options: dict[str, Any]) -> None:
    """Serve with ``options["workers"]`` processes until SIGINT / SIGTERM (or a worker cannot start)."""
    options = dict(options)
    logging.config.dictConfig(options["log_config"])
    count = options.pop("workers")
    host, port = options.pop("host"), options.pop("port")
    reserve = listening_socket(host, port)
    port = reserve.getsockname()[1]
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()
    failed = threading.Event()

    def start() -> Any:
        worker = context.Process(target=serve_one, args=(options, host, port, os.getpid()), daemon=False)
        worker.start()
        return worker

    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    processes = [start() for _ in range(count)]
    log.info("carekey: %d workers on %s:%d, one socket each (SO_REUSEPORT)", count, host, port)
    try:
        while not stop.wait(0.5):
            for i, worker in enumerate(processes):
                if worker.is_alive():
                    continue
                if worker.exitcode == STARTUP_FAILURE:
                    log.error("worker [%s] could not start; stopping", worker.pid)
                    failed.set()
                    stop.set()
                    break
                log.warning("worker [%s] ended (exit code %s); starting another", worker.pid, worker.exitcode)
                processes[i] = start()
    finally:
        for worker in processes:
            if worker.is_alive():
                worker.terminate()  # SIGTERM: uvicorn finishes the requests in progress
        for worker in processes:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
                worker.join()
        reserve.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if failed.is_set():
        raise SystemExit(STARTUP_FAILURE)
