"""Property tests of the Merkle log: the incremental log equals the RFC definition, proofs verify, and
any change to a proof, a leaf, an index, a size or a root makes verification fail."""

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from carekey.audit.merkle import (
    InMemoryNodeStore,
    MerkleLog,
    ProofError,
    leaf_hash,
    reference_root,
    verify_consistency,
    verify_inclusion,
)

leaves = st.lists(st.binary(max_size=12), min_size=1, max_size=70)


def build(data):
    log = MerkleLog(InMemoryNodeStore())
    log.extend(data)
    return log


@settings(max_examples=60, deadline=None)
@given(leaves)
def test_root_matches_definition_for_every_prefix(data):
    log = build(data)
    hashes = [leaf_hash(d) for d in data]
    assert log.size == len(data)
    for n in range(len(data) + 1):
        assert log.root(n) == reference_root(hashes[:n])


@settings(max_examples=60, deadline=None)
@given(leaves, st.data())
def test_inclusion_proofs_verify_and_any_change_fails(data, draw):
    log = build(data)
    size = draw.draw(st.integers(1, len(data)))
    index = draw.draw(st.integers(0, size - 1))
    proof = log.inclusion_proof(index, size)
    root, leaf = log.root(size), log.leaf_hash_at(index)
    assert verify_inclusion(leaf, index, size, proof, root)
    assert not verify_inclusion(leaf_hash(data[index] + b"x"), index, size, proof, root)
    assert not verify_inclusion(leaf, index, size, proof, leaf_hash(b"other root"))
    if proof:
        k = draw.draw(st.integers(0, len(proof) - 1))
        bit = draw.draw(st.integers(0, 255))
        flipped = list(proof)
        element = bytearray(flipped[k])
        element[bit // 8] ^= 1 << (bit % 8)
        flipped[k] = bytes(element)
        assert not verify_inclusion(leaf, index, size, flipped, root)
        assert not verify_inclusion(leaf, index, size, proof[:-1], root)
    assert not verify_inclusion(leaf, index, size, proof + [root], root)
    other = draw.draw(st.integers(0, size - 1))
    assume(leaf_hash(data[other]) != leaf)
    assert not verify_inclusion(leaf, other, size, proof, root) or other == index


@settings(max_examples=60, deadline=None)
@given(leaves, st.data())
def test_consistency_proofs_verify_and_any_change_fails(data, draw):
    log = build(data)
    new = draw.draw(st.integers(1, len(data)))
    old = draw.draw(st.integers(1, new))
    proof = log.consistency_proof(old, new)
    r1, r2 = log.root(old), log.root(new)
    assert verify_consistency(old, new, r1, r2, proof)
    if old < new:
        assert proof
        assert not verify_consistency(old, new, r2, r1, proof) or r1 == r2
        k = draw.draw(st.integers(0, len(proof) - 1))
        flipped = list(proof)
        flipped[k] = bytes([flipped[k][0] ^ 1]) + flipped[k][1:]
        assert not verify_consistency(old, new, r1, r2, flipped)
        assert not verify_consistency(old, new, r1, r2, proof[:-1])
        # a forked history: the same old size with one leaf changed is not consistent with this log
        forked = build(data[: old - 1] + [data[old - 1] + b"!"])
        assert not verify_consistency(old, new, forked.root(), r2, proof)


def test_proof_requests_beyond_the_log_fail():
    log = build([b"a", b"b", b"c"])
    for call in (
        lambda: log.inclusion_proof(3, 3),
        lambda: log.inclusion_proof(0, 4),
        lambda: log.consistency_proof(2, 4),
        lambda: log.consistency_proof(3, 2),
        lambda: log.root(4),
    ):
        try:
            call()
        except ProofError:
            continue
        raise AssertionError("expected ProofError")


def test_store_rejects_out_of_order_nodes():
    store = InMemoryNodeStore()
    store.add([(0, 0, b"\x00" * 32)])
    try:
        store.add([(0, 5, b"\x00" * 32)])
    except ValueError:
        return
    raise AssertionError("a gap in the node store must be refused")


class TableLikeStore:
    """A NodeStore shaped like a database table keyed by (level, index), as a storage adapter would be."""

    def __init__(self):
        self.rows = {}

    def leaf_count(self):
        return sum(1 for level, _ in self.rows if level == 0)

    def get(self, level, index):
        return self.rows[(level, index)]

    def add(self, nodes):
        for level, index, digest in nodes:
            assert (level, index) not in self.rows, "nodes are write-once"
            self.rows[(level, index)] = digest


@settings(max_examples=30, deadline=None)
@given(leaves)
def test_any_node_store_gives_the_same_log(data):
    table, memory = MerkleLog(TableLikeStore()), build(data)
    table.extend(data)
    assert table.root() == memory.root()
    assert len(table.store.rows) == 2 * len(data) - bin(len(data)).count("1")  # perfect nodes only
    assert table.inclusion_proof(len(data) - 1) == memory.inclusion_proof(len(data) - 1)
