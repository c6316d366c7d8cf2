"""The Merkle log against published RFC 6962 test vectors.

Source of every constant below: transparency-dev/merkle (Go reference implementation of RFC 6962 /
RFC 9162 proofs), files ``proof/verify_test.go`` (roots of the 8-leaf tree per size, inclusion and
consistency proofs, the same tree as google/certificate-transparency's merkle tree tests) and
``rfc6962/rfc6962_test.go`` (empty root, leaf and node hash). Inclusion vectors there use 1-based
leaf numbers; they are converted to 0-based indices here.
"""

import pytest

from carekey.audit.merkle import (
    EMPTY_ROOT,
    MerkleLog,
    leaf_hash,
    node_hash,
    reference_root,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

h = bytes.fromhex

LEAVES = [
    h(""),
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]

ROOTS = [  # ROOTS[n - 1] = root of the tree of the first n leaves
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

INCLUSION = [  # (0-based index, tree size, proof)
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


@pytest.fixture(scope="module")
def log():
    tree = MerkleLog()
    tree.extend(LEAVES)
    return tree


def test_hash_primitives():
    assert h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == EMPTY_ROOT
    assert leaf_hash(b"") == h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    assert leaf_hash(b"L123456") == h("395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56")
    assert node_hash(b"N123", b"N456") == h("aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb")


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_per_size(log, size):
    assert log.root(size) == h(ROOTS[size - 1])
    assert reference_root([leaf_hash(x) for x in LEAVES[:size]]) == h(ROOTS[size - 1])
    incremental = MerkleLog()
    incremental.extend(LEAVES[:size])
    assert incremental.root() == h(ROOTS[size - 1])


def test_empty_tree(log):
    assert MerkleLog().root() == EMPTY_ROOT and log.root(0) == EMPTY_ROOT


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_vectors(log, index, size, proof):
    proof = [h(p) for p in proof]
    assert log.inclusion_proof(index, size) == proof
    leaf = leaf_hash(LEAVES[index])
    root = h(ROOTS[size - 1])
    assert root_from_inclusion_proof(leaf, index, size, proof) == root
    assert verify_inclusion(leaf, index, size, proof, root)
    # corruptions in the style of the reference suite: each must fail
    bad = [
        (leaf, index + 1, size, proof, root),
        (leaf, index, size * 2, proof, root),
        (leaf_hash(b"WrongLeaf"), index, size, proof, root),
        (leaf, index, size, proof, EMPTY_ROOT),
        (leaf, index, size, proof + [root], root),
        (leaf, index, size, [root] + proof, root),
    ]
    if index > 0:
        bad.append((leaf, index - 1, size, proof, root))
    if size > 1:
        bad.append((leaf, index, size // 2, proof, root))
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        bad.append((leaf, index, size, flipped, root))
    if proof:
        bad.append((leaf, index, size, proof[:-1], root))
    for case in bad:
        assert not verify_inclusion(*case), case[1:3]


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_vectors(log, old, new, proof):
    proof = [h(p) for p in proof]
    assert log.consistency_proof(old, new) == proof
    r1, r2 = h(ROOTS[old - 1]), h(ROOTS[new - 1])
    assert verify_consistency(old, new, r1, r2, proof)
    if not proof:
        return
    bad = [
        (old + 1, new, r1, r2, proof),
        (old, new * 2, r1, r2, proof),
        (old, new // 2, r1, r2, proof),
        (old, new, r2, r1, proof),
        (old, new, EMPTY_ROOT, r2, proof),
        (old, new, r1, EMPTY_ROOT, proof),
        (old, new, r1, r2, []),
        (old, new, r1, r2, proof + [r1]),
        (old, new, r1, r2, [r2] + proof),
        (old, new, r1, r2, proof[:-1]),
        (old, new, r1, r2, [proof[0]] + proof),
    ]
    if old > 1:
        bad.append((old - 1, new, r1, r2, proof))
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        bad.append((old, new, r1, r2, flipped))
    for case in bad:
        assert not verify_consistency(*case), case[:2]


def test_trivial_consistency():
    assert verify_consistency(0, 0, b"x" * 32, b"y" * 32, [])
    assert verify_consistency(0, 5, b"x" * 32, b"y" * 32, [])
    assert not verify_consistency(1, 1, h(ROOTS[0]), h(ROOTS[1]), [])
    assert not verify_consistency(2, 1, h(ROOTS[1]), h(ROOTS[0]), [])
    assert not verify_consistency(0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])
