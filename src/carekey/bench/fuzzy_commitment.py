"""Fuzzy commitment of iris codes (research prototype of the `bench` extra, needs reedsolo; NOT wired into
``ProtectedMatcher``; measured by
``carekey bench protection --scheme fuzzy-commitment``).

- Fuzzy commitment: Juels & Wattenberg, "A fuzzy commitment scheme", ACM CCS 1999. A random message
  is encoded into a codeword c; the stored helper data is h = c XOR code, with a check value of the
  message. A probe close to the code gives h XOR probe = c XOR (errors), which decodes back to c.
- Iris codes: Hao, Anderson, Daugman, "Combining crypto with biometrics effectively", IEEE TC 55(9),
  2006: an inner Hadamard code (first-order Reed-Muller: 2B codewords of B bits, ML-decoded by a
  Walsh-Hadamard transform, corrects the scattered background errors of each block) and an outer
  Reed-Solomon code over the block symbols (corrects the blocks that still decode wrong). Decoding is
  soft: masked bits (of the probe, and of the enrolment when its mask is stored) enter the transform
  as 0 (erasures), and a block whose best codeword wins by too small a margin is passed to the RS
  decoder as an erasure (2 errors + erasures <= n - k).
- Unlinkability: Kelkboom, Breebaart, Kevenaar, Buhan, Veldhuis, "Preventing the decodability attack
  based cross-matching in a fuzzy commitment scheme", IEEE TIFS 6(1), 2011: the code is put through a
  bit permutation keyed by the program's secret before commitment, so h_A XOR h_B of two programs is
  no longer (codeword XOR small error).
Stored per eye: h, the permuted enrolment mask (optional), a random salt and the check value of the
message: Argon2id (RFC 9106) of HMAC-SHA256(program-derived key, message). With the program key known, the
message can be guessed; Argon2id makes each guess cost ~25 ms instead of ~4 us. Its price: the verifier pays
it for every RS output, and with block erasures (margin > 0) a short RS code "decodes" impostor words often
(few unerased symbols left: ~18 % of rotations for RS(16, 3) in a spot check), so an impostor verify costs
~6 Argon2id runs (~190 ms vs ~8 ms at margin 0). The reconstructed code exists only inside ``verify``.

Not fit for production at the operating point the benchmark chose on MMU1 (a 24-bit message): with the program
key known, 2^24 Argon2id guesses (about 5 CPU-days per eye) recover the iris code from what is stored. Longer
messages make guessing infeasible but raise genuine failures steeply (bench/results/protection/
iris_mmu1_fuzzy_commitment.txt: 32 bits 8.6 %, 64 bits 17 %); that trade-off is why it stays a measurement.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import struct
import zlib
from dataclasses import dataclass

import numpy as np
import reedsolo
from argon2.low_level import Type, hash_secret_raw
from scipy.linalg import hadamard

from carekey.biometrics.iris import matching
from carekey.biometrics.iris import parameters as IP
from carekey.biometrics.iris.templates import IrisTemplate
from carekey.errors import TemplateError

BITS = IP.CODE_BITS
MAGIC = b"CKFC"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<4sHHHB??fH")  # magic, version, block, rs n, rs k, mask stored, slow, margin, mask bits
SALT_BYTES = 16
ARGON2_TIME, ARGON2_MEMORY_KIB = 2, 19 * 1024  # the OWASP minimum for Argon2id


@dataclass(frozen=True)
class FCParams:
    """Code parameters: Hadamard block of ``block`` bits (symbols of log2(block)+1 bits), RS(n, k) over
    those symbols with n = blocks that fit in the code; key length = k symbols."""

    block: int = 64
    k: int = 8
    enrol_mask: bool = True
    margin: float = 0.0  # block erased when (|best| - |second|) correlation < margin * block
    slow_check: bool = True  # Argon2id check value (False: HMAC only; for measuring the difference)
    mask_bits: int = 0  # > 0: every stored mask has exactly this many usable bits (``equalize``)

    @property
    def symbol_bits(self) -> int:
        return self.block.bit_length()  # log2(block) + 1

    @property
    def n(self) -> int:
        return min(BITS // self.block, 2**self.symbol_bits - 1)

    @property
    def key_bits(self) -> int:
        return self.k * self.symbol_bits

    def validate(self) -> None:
        if self.block not in (32, 64, 128) or not 0 < self.k < self.n or not 0 <= self.mask_bits <= BITS:
            raise ValueError(f"unsupported fuzzy commitment parameters {self}")


@dataclass(frozen=True, eq=False)
class Commitment:
    params: FCParams
    helper: np.ndarray  # uint8 (BITS,) bits: c XOR perm(code)
    mask: np.ndarray | None  # uint8 (BITS,) bits: perm(enrolment mask), or None
    salt: bytes  # SALT_BYTES random
    check: bytes  # check_value(secret, message, salt, slow)

    def stored_mask(self) -> np.ndarray:
        """The stored enrolment mask (``params.enrol_mask``); ValueError when the commitment has none."""
        if self.mask is None:
            raise ValueError("this commitment stores no enrolment mask")
        return self.mask

    def to_bytes(self) -> bytes:
        p = self.params
        body = _HEADER.pack(MAGIC, FORMAT_VERSION, p.block, p.n, p.k, p.enrol_mask, p.slow_check, p.margin, p.mask_bits)
        body += np.packbits(self.helper).tobytes() + (
            np.packbits(self.stored_mask()).tobytes() if p.enrol_mask else b""
        )
        body += self.salt + self.check
        return body + struct.pack("<I", zlib.crc32(body))

    @classmethod
    def from_bytes(cls, data: bytes) -> Commitment:
        if not isinstance(data, bytes | bytearray) or len(data) < _HEADER.size + 4:
            raise TemplateError("Fuzzy commitment is truncated or not bytes.", reason="truncated")
        magic, version, block, n, k, has_mask, slow, margin, mask_bits = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise TemplateError("Not an iris fuzzy commitment (bad magic).", reason="magic")
        if version != FORMAT_VERSION:
            raise TemplateError(f"Fuzzy commitment format version {version} is not supported.", reason="version")
        size = _HEADER.size + BITS // 8 * (2 if has_mask else 1) + SALT_BYTES + 32 + 4
        if len(data) != size:
            raise TemplateError("Fuzzy commitment has the wrong size.", reason="size")
        (crc,) = struct.unpack_from("<I", data, size - 4)
        if crc != zlib.crc32(bytes(data[: size - 4])):
            raise TemplateError("Fuzzy commitment is corrupt (checksum mismatch).", reason="checksum")
        params = FCParams(block, k, bool(has_mask), float(margin), bool(slow), mask_bits)
        try:
            params.validate()
        except ValueError as exc:
            raise TemplateError(f"Fuzzy commitment has invalid parameters: {exc}", reason="parameters") from None
        if params.n != n:
            raise TemplateError("Fuzzy commitment block count does not match its block size.", reason="parameters")
        tail = size - 36 - SALT_BYTES
        raw = np.frombuffer(bytes(data[_HEADER.size : tail]), np.uint8)
        helper = np.unpackbits(raw[: BITS // 8])
        mask = np.unpackbits(raw[BITS // 8 :]) if has_mask else None
        return cls(params, helper, mask, bytes(data[tail : size - 36]), bytes(data[size - 36 : size - 4]))


# --- keys ----------------------------------------------------------------------------------------
def _derive(secret: bytes, label: str) -> bytes:
    return hmac.new(secret, b"carekey/fuzzy-commitment/iris/" + label.encode(), hashlib.sha256).digest()


@functools.lru_cache(maxsize=16)
def permutation(secret: bytes) -> np.ndarray:
    """The program's keyed bit permutation (Kelkboom et al. 2011): index array (BITS,)."""
    seed = int.from_bytes(_derive(secret, "permutation"), "big")
    return np.random.default_rng(seed).permutation(BITS)


def check_value(secret: bytes, message: bytes, salt: bytes, slow: bool = True) -> bytes:
    keyed = hmac.new(_derive(secret, "check"), salt + message, hashlib.sha256).digest()
    if not slow:
        return keyed
    return hash_secret_raw(
        keyed, salt, time_cost=ARGON2_TIME, memory_cost=ARGON2_MEMORY_KIB, parallelism=1, hash_len=32, type=Type.ID
    )


# --- inner code: Hadamard / first-order Reed-Muller -------------------------------------------------
@functools.lru_cache(maxsize=8)
def _hadamard(block: int) -> np.ndarray:
    return hadamard(block).astype(np.float32)  # Sylvester order: row a = (-1)^popcount(a & t)


def hadamard_encode(symbols: np.ndarray, block: int) -> np.ndarray:
    """Symbols (..., n) in [0, 2 * block) -> bits (..., n * block): row (symbol % block), complemented
    when symbol >= block."""
    rows = _hadamard(block)[symbols % block] < 0
    return (rows ^ (symbols >= block)[..., None]).reshape(*symbols.shape[:-1], -1).astype(np.uint8)


def hadamard_decode(received: np.ndarray, block: int, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Soft ML decoding of bipolar blocks (..., n, block) (+1 bit 0, -1 bit 1, 0 erased): the symbols
    and a boolean erasure flag per block (winning correlation margin below ``margin * block``)."""
    spectrum = received.astype(np.float32) @ _hadamard(block)  # the Walsh-Hadamard transform, by BLAS
    mag = np.abs(spectrum)
    top2 = np.partition(mag, -2, axis=-1)[..., -2:]
    best = np.argmax(mag, axis=-1)
    sign = np.take_along_axis(spectrum, best[..., None], axis=-1)[..., 0] < 0
    return best + block * sign, (top2[..., 1] - top2[..., 0]) < margin * block


# --- outer code: Reed-Solomon (reedsolo: pure Python, any GF(2^m), errors-and-erasures decoding) ---------
@functools.lru_cache(maxsize=32)
def _codec(params: FCParams) -> reedsolo.RSCodec:
    return reedsolo.RSCodec(nsym=params.n - params.k, nsize=2**params.symbol_bits - 1, c_exp=params.symbol_bits)


def rs_decode(params: FCParams, symbols: np.ndarray, erased: np.ndarray) -> bytes | None:
    """The message (k symbols, one per byte) or None when the word is beyond the code's capacity."""
    erase_pos = np.flatnonzero(erased).tolist()
    if len(erase_pos) > params.n - params.k:
        return None
    try:
        message, _, _ = _codec(params).decode(bytearray(symbols.astype(np.uint8).tobytes()), erase_pos=erase_pos)
    except reedsolo.ReedSolomonError:
        return None
    return bytes(message)


def codeword_symbols(params: FCParams, message: bytes) -> np.ndarray:
    return np.frombuffer(bytes(_codec(params).encode(bytearray(message))), np.uint8).astype(np.int64)


def codeword_bits(params: FCParams, message: bytes) -> np.ndarray:
    """The committed codeword (n * block bits): RS-encode the message, Hadamard-encode each symbol."""
    return hadamard_encode(codeword_symbols(params, message), params.block)


def equalize(
    code: np.ndarray, mask: np.ndarray, usable: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Exactly ``usable`` usable bits: drop random usable bits, or add random masked positions holding random
    bits (noise to the decoder). The count of a stored mask would otherwise link the same eye across
    programs (the permutation hides positions, not counts)."""
    code, mask = code.astype(bool).copy(), mask.astype(bool).copy()
    on, off = np.flatnonzero(mask), np.flatnonzero(~mask)
    if on.size > usable:
        drop = rng.choice(on, on.size - usable, replace=False)
        mask[drop], code[drop] = False, False
    elif on.size < usable:
        add = rng.choice(off, usable - on.size, replace=False)
        mask[add], code[add] = True, rng.integers(0, 2, add.size).astype(bool)
    return code, mask


def _pad(params: FCParams, codeword: np.ndarray) -> np.ndarray:
    """Bits past the last block (block 32: 2016 of 2048) are covered by fresh random bits, never stored
    in the clear; they are simply not recovered."""
    tail = np.unpackbits(np.frombuffer(secrets.token_bytes(BITS // 8), np.uint8))[: BITS - codeword.size]
    return np.concatenate([codeword, tail])


# --- commit / verify ----------------------------------------------------------------------------
def commit(
    template: IrisTemplate, secret: bytes, params: FCParams = FCParams(), message: bytes | None = None
) -> Commitment:
    params.validate()
    if message is None:
        message = bytes(secrets.randbelow(2**params.symbol_bits) for _ in range(params.k))
    if len(message) != params.k or max(message) >= 2**params.symbol_bits:
        raise ValueError(f"a message is {params.k} symbols of {params.symbol_bits} bits")
    code, mask = template.bits()
    if params.mask_bits:
        code, mask = equalize(code, mask, params.mask_bits, np.random.default_rng(secrets.randbits(128)))
    perm = permutation(secret)
    helper = _pad(params, codeword_bits(params, message)) ^ code[perm].astype(np.uint8)
    salt = secrets.token_bytes(SALT_BYTES)
    return Commitment(
        params,
        helper,
        mask[perm].astype(np.uint8) if params.enrol_mask else None,
        salt,
        check_value(secret, message, salt, params.slow_check),
    )


def candidates(codes: np.ndarray, masks: np.ndarray, secret: bytes, c: Commitment) -> np.ndarray:
    """Received bipolar words (S, n, block) for candidate codes and masks (S, BITS) bits: h XOR perm(code),
    masked bits 0."""
    p, perm = c.params, permutation(secret)
    usable = masks[:, perm].astype(bool)
    if c.mask is not None:
        usable &= c.mask.astype(bool)[None, :]
    word = (1 - 2 * (c.helper[None, :] ^ codes[:, perm])).astype(np.int8) * usable
    return word[:, : p.n * p.block].reshape(len(word), p.n, p.block)


def unlock(codes: np.ndarray, masks: np.ndarray, secret: bytes, c: Commitment) -> IrisTemplate | None:
    """Try each candidate (fewest erased blocks first); the committed template on success, else None."""
    p, perm = c.params, permutation(secret)
    symbols, erased = hadamard_decode(candidates(codes, masks, secret, c), p.block, p.margin)
    for s in np.argsort(erased.sum(axis=1), kind="stable"):
        message = rs_decode(p, symbols[s], erased[s])
        if message is not None and hmac.compare_digest(check_value(secret, message, c.salt, p.slow_check), c.check):
            covered = p.n * p.block
            code, mask = np.zeros(BITS, bool), np.zeros(BITS, bool)
            code[perm[:covered]] = codeword_bits(p, message) ^ c.helper[:covered]
            mask[perm[:covered]] = True if c.mask is None else c.mask[:covered].astype(bool)
            return IrisTemplate.from_bits(code, mask)
    return None


def verify(probe: IrisTemplate, secret: bytes, c: Commitment, max_shift: int = IP.MAX_SHIFT) -> float:
    """Similarity in [0, 1]: masked Hamming similarity of the probe and the unlocked code (1 - HD_norm,
    as the unprotected matcher), 0 when no rotation of the probe decodes."""
    codes, masks = matching.shifted(probe, matching.shift_range(max_shift))
    unpack = lambda a: np.unpackbits(a.view(np.uint8), axis=1, bitorder="little")  # noqa: E731
    enrolled = unlock(unpack(codes), unpack(masks), secret, c)
    if enrolled is None:
        return 0.0
    return float(np.clip(1.0 - matching.compare(enrolled, probe, max_shift), 0.0, 1.0))
