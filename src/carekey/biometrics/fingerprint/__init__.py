"""Fingerprint recognition. Public facade: :mod:`carekey.biometrics.fingerprint.api`.

Pipeline (one module per stage, constants in ``parameters``):

1. ``capture``     decode PNG/TIFF/BMP/JPEG, rescale to 500 dpi, refuse unusable captures;
2. ``minutiae``    NFIQ 2 quality, CLAHE, NBIS mindtct minutiae (nbis-py); ``foreground`` drops
                   minutiae on the edge of the print;
3. ``cylinders``   Minutia Cylinder-Code (bit version) per minutia;
4. ``matcher``     MCC local similarities, sort and relaxation (LSS-R): a score in [0, 1];
5. ``index``       1:N: LSH Bloom pre-filter over pooled cylinders, then exact re-ranking.

``templates`` holds the matching template and its versioned persistent form (an ISO/IEC 19794-2:2005
record, ``iso19794``, inside a checksummed envelope).
"""
