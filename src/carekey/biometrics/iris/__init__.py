"""carekey.biometrics.iris — iris recognition from grayscale / near-infrared eye images.

Public facade: :mod:`carekey.biometrics.iris.api` (``extract``, ``compare``, ``compare_eyes``,
``IrisGallery``, ``load_template``). The pipeline (``pipeline.py``) reads top to bottom:

capture (decode, reject unreadable/blank) -> segmentation (reflections, pupil, limbus, lashes)
-> normalization (rubber sheet) -> occlusion (eyelids, lashes, reflections -> noise mask)
-> quality (focus, occlusion, usable iris) -> encoding (log-Gabor phase -> 2048-bit code + mask)

Matching (``matching.py``) is the masked fractional Hamming distance, rotation-compensated and
Daugman-normalized; ``index.py`` the bit-packed 1:N gallery with a compiled scan kernel. Every
tuning constant lives in ``parameters.py``. Nothing here knows persons: galleries map opaque keys.
"""
