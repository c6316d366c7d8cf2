"""Extract every eye image of a folder with the iris pipeline on PYTHONPATH (2 processes); pickle circles,
templates and rejections, so that two code versions can be compared on the same images without re-extracting.

    PYTHONPATH=<src of a version> python bench/tools/iris_extract_pickle.py <folder> out.pkl
    python bench/tools/iris_pickle_eer.py out.pkl       # EER / FNMR / FTE and the worst genuine pairs
"""

import pickle
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from carekey.biometrics.iris import capture, encoding, normalization, occlusion, quality, segmentation
from carekey.errors import CarekeyError


def work(p):
    try:
        eye = capture.decode(Path(p).read_bytes())
        seg = segmentation.segment(eye)
        m = occlusion.mask_noise(normalization.rubber_sheet(seg))
        quality.check(seg, m)
        t = encoding.encode(m)
        return (
            p,
            (seg.pupil.x, seg.pupil.y, seg.pupil.r, seg.iris.x, seg.iris.y, seg.iris.r),
            t,
            None,
            float(m.noise.mean()),
        )
    except CarekeyError as e:
        return p, None, None, e.message, None


if __name__ == "__main__":
    d, out = sys.argv[1], sys.argv[2]
    files = sorted(str(f) for f in Path(d).glob("*.png"))
    if len(sys.argv) > 3:
        files = files[: int(sys.argv[3])]
    with ProcessPoolExecutor(2) as ex:
        res = list(ex.map(work, files, chunksize=8))
    with open(out, "wb") as fh:
        pickle.dump(res, fh)
    print("FTE", sum(r[2] is None for r in res))
