"""Arrays the fuzzy commitment benchmark feeds to ``fc_kernels``: every template's code and mask at every
rotation of the iris matcher's shift range, and helper data, as bipolar int8 words (0 = erased bit)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from carekey.bench import fuzzy_commitment as fc
from carekey.biometrics.iris import matching
from carekey.biometrics.iris.templates import IrisTemplate


@dataclass(frozen=True)
class Prepared:
    codes: np.ndarray  # (T, BITS) uint8 bits, as enrolled
    masks: np.ndarray  # (T, BITS) uint8
    rot_codes: np.ndarray  # (T, S, BITS) uint8, every probe rotation
    rot_masks: np.ndarray  # (T, S, BITS) uint8
    identity: np.ndarray  # (T,) identity labels


def _unpack(words: np.ndarray) -> np.ndarray:
    return np.unpackbits(words.view(np.uint8), axis=-1, bitorder="little")


def prepare(templates: list[IrisTemplate], identities: list[str]) -> Prepared:
    shifts = matching.shift_range()
    bits = [t.bits() for t in templates]
    rotated = [matching.shifted(t, shifts) for t in templates]
    return Prepared(
        np.stack([b[0] for b in bits]).astype(np.uint8),
        np.stack([b[1] for b in bits]).astype(np.uint8),
        np.stack([_unpack(c) for c, _ in rotated]),
        np.stack([_unpack(m) for _, m in rotated]),
        np.asarray(identities),
    )


def bipolar(bits: np.ndarray, usable: np.ndarray | None = None) -> np.ndarray:
    word = (1 - 2 * bits.astype(np.int8)).astype(np.int8)
    return word if usable is None else word * usable.astype(np.int8)


def probes(prep: Prepared, key: bytes) -> np.ndarray:
    """(T, S, BITS) int8: every rotation of every code, permuted under ``key``, masked bits 0."""
    perm = fc.permutation(key)
    return bipolar(prep.rot_codes[:, :, perm], prep.rot_masks[:, :, perm])


def helpers(
    prep: Prepared,
    coms: list[fc.Commitment] | None,
    truth: np.ndarray,
    key: bytes | None = None,
    params: fc.FCParams | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(bipolar helper words (T, BITS) with erased enrolment bits 0, committed symbols ``truth`` (T, n)).

    From real commitments (``coms``, of the messages whose codewords are ``truth``), or synthetic ones:
    ``truth`` committed under ``key`` with ``params`` (as ``fuzzy_commitment.commit`` does)."""
    if coms is None:
        if key is None or params is None:
            raise ValueError("synthetic commitments need the key and the parameters")
        perm, covered = fc.permutation(key), params.n * params.block
        codes, masks = prep.codes, prep.masks
        if params.mask_bits:
            rng = np.random.default_rng(params.mask_bits)
            pairs = [fc.equalize(c, m, params.mask_bits, rng) for c, m in zip(codes, masks, strict=True)]
            codes, masks = np.stack([c for c, _ in pairs]), np.stack([m for _, m in pairs])
        h = codes[:, perm].astype(np.uint8)
        h[:, :covered] ^= fc.hadamard_encode(truth, params.block)
        return bipolar(h, masks[:, perm] if params.enrol_mask else None), truth
    p = coms[0].params
    h = np.stack([c.helper for c in coms])
    usable = np.stack([c.stored_mask() for c in coms]) if p.enrol_mask else None
    return bipolar(h, usable), truth


def commit_all(templates: list, key: bytes, params: fc.FCParams, seed: int) -> tuple[list, np.ndarray]:
    """Commitments of every template to random messages, and their codewords' symbols (T, n)."""
    rng = np.random.default_rng(seed)
    messages = [rng.integers(0, 2**params.symbol_bits, params.k, dtype=np.uint8).tobytes() for _ in templates]
    coms = [fc.commit(t, key, params, m) for t, m in zip(templates, messages, strict=True)]
    return coms, np.stack([fc.codeword_symbols(params, m) for m in messages])
