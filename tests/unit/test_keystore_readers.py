"""The key store's per-thread read connections never outlive a destroyed secret or a replaced file."""

from __future__ import annotations

import shutil
import threading
from concurrent.futures import ThreadPoolExecutor

from hypothesis import given, settings
from hypothesis import strategies as st

from carekey.storage.keystore import FileSecretStore


def test_a_destroy_is_seen_at_once_by_every_thread_that_read_before(tmp_path):
    store = FileSecretStore(tmp_path / "k.keystore")
    secret = store.create("person-1")
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(lambda _: store.get("person-1"), range(8))) == [secret] * 8  # readers now cached
        store.destroy("person-1")
        assert list(pool.map(lambda _: store.get("person-1"), range(8))) == [None] * 8


def test_a_reader_holds_no_lock_that_blocks_a_destroy(tmp_path):
    store = FileSecretStore(tmp_path / "k.keystore")
    store.create("a")
    store.create("b")
    ready, done = threading.Event(), threading.Event()

    def reader() -> None:
        store.get("a")  # leaves this thread's connection open
        ready.set()
        done.wait(10)

    t = threading.Thread(target=reader)
    t.start()
    ready.wait(10)
    store.destroy("b")  # would wait out the busy timeout (30 s) if the reader kept its shared lock
    done.set()
    t.join()
    assert store.get("b") is None and store.count() == 1


def test_a_replaced_file_is_read_again(tmp_path):
    store = FileSecretStore(tmp_path / "k.keystore")
    store.create("old")
    backup = tmp_path / "backup.keystore"
    shutil.copy(store._path, backup)
    assert store.get("old") is not None
    store.destroy("old")
    assert store.get("old") is None
    (tmp_path / "k.keystore").unlink()
    shutil.copy(backup, tmp_path / "k.keystore")  # a restore: another file at the same path
    assert store.get("old") is not None


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["create", "destroy", "get"]), st.integers(0, 4)), max_size=30))
def test_reads_follow_every_write(tmp_path_factory, steps):
    store = FileSecretStore(tmp_path_factory.mktemp("ks") / "k.keystore")
    model: dict[str, bytes] = {}
    with ThreadPoolExecutor(2) as pool:
        for op, n in steps:
            ref = f"p{n}"
            if op == "create" and ref not in model:
                model[ref] = store.create(ref)
            elif op == "destroy":
                store.destroy(ref)
                model.pop(ref, None)
            # read from a pool thread (cached connection) and from this one
            assert pool.submit(store.get, ref).result() == model.get(ref)
            assert store.get(ref) == model.get(ref)
