"""EER, FNMR at FMR 1 % / 0.1 %, FTE and the 25 worst genuine pairs of a pickle from iris_extract_pickle.py."""

import itertools
import pickle
import sys
from pathlib import Path

import numpy as np

from carekey.bench import metrics
from carekey.biometrics.iris import api

with open(sys.argv[1], "rb") as fh:
    res = pickle.load(fh)
gen, imp, pergen = [], [], []
ts = [(Path(p).stem.rsplit("_", 1)[0], Path(p).stem, t) for p, _, t, _, _ in res]
for (a, na, ta), (b, nb, tb) in itertools.combinations(ts, 2):
    s = 0.0 if ta is None or tb is None else 1 - api.compare(ta, tb)
    (gen if a == b else imp).append(s)
    if a == b:
        pergen.append((s, na, nb))
c = metrics.error_curve(np.array(gen), np.array(imp))
print(
    sys.argv[1],
    f"EER {100 * metrics.equal_error_rate(c):.2f} FNMR@1 {100 * metrics.fnmr_at_fmr(c, 0.01):.2f} "
    f"FNMR@0.1 {100 * metrics.fnmr_at_fmr(c, 0.001):.2f}",
    "FTE",
    sum(r[2] is None for r in res),
)
print("worst gen", " ".join(f"{a}/{b}:{1 - s:.3f}" for s, a, b in sorted(pergen)[:25]))
