"""``carekey serve --workers N`` gives every worker a listening socket of its own on one address
(``carekey.interfaces.cli.workers``): the kernel spreads connections over them, instead of one shared socket whose
first awake worker accepts a whole burst."""

from __future__ import annotations

import socket

import pytest

from carekey.interfaces.cli import workers

pytestmark = pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="SO_REUSEPORT is Linux / BSD")


def test_workers_listen_on_one_address_with_sockets_of_their_own():
    reserve = workers.listening_socket("127.0.0.1", 0)
    port = reserve.getsockname()[1]
    mine = [workers.listening_socket("127.0.0.1", port, listen=True) for _ in range(2)]
    try:
        for s in mine:
            s.setblocking(False)
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(32)]
        accepted = []
        for s in mine:
            n = 0
            while True:
                try:
                    conn, _ = s.accept()
                except BlockingIOError:
                    break
                conn.close()
                n += 1
            accepted.append(n)
        for c in clients:
            c.close()
        assert sum(accepted) == 32  # the reserving socket never listens: no connection is lost there
        assert min(accepted) >= 1  # both get some (all 32 on one of two: a chance of 2^-31)
        late = workers.listening_socket("127.0.0.1", port)  # bound, not yet listening: a worker starting up
        try:
            late.setblocking(False)
            more = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
            with pytest.raises(OSError):  # nothing is handed to a socket that does not listen yet
                late.accept()
            for c in more:
                c.close()
        finally:
            late.close()
    finally:
        for s in [reserve, *mine]:
            s.close()


def test_a_taken_address_is_refused_at_once():
    plain = socket.socket()
    plain.bind(("127.0.0.1", 0))
    plain.listen()
    try:
        with pytest.raises(OSError):
            workers.listening_socket("127.0.0.1", plain.getsockname()[1])
    finally:
        plain.close()
