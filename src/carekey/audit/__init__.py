"""carekey.audit: the tamper-evident access log (RFC 9162 style).

- ``leaf``    leaf format: salted commitment to one access decision (no personal data)
- ``merkle``  ``MerkleLog`` over a ``NodeStore`` (append, root, inclusion / consistency proofs) and the
              stateless verifiers ``verify_inclusion`` / ``verify_consistency``
- ``sth``     Ed25519 ``LogSigner`` and ``SignedTreeHead``
- ``promise`` ``EntryPromise``: the signed promise (an SCT) that a committed entry is integrated within the delay
- ``proofs``  ``InclusionReceipt`` / ``ConsistencyReceipt``: self-contained proofs for patients and auditors
- ``verify``  ``verify_log``: the auditor's full check of a stored log against saved tree heads
"""
