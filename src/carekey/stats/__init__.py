"""carekey.stats: differentially private aggregate statistics (OpenDP) and the privacy budget.

- ``records``     ``ScreeningRecord`` (one decrypted row per person) and the public bands (WHO BMI, glucose...)
- ``mechanisms``  OpenDP count-by-categories with discrete Laplace noise and 95 % intervals
- ``releases``    ``Statistic``, ``release`` and ``release_and_charge`` by district x sex x age band
- ``budget``      ``PrivacyLedger`` over a ``BudgetStore`` (sequential composition, ``BudgetExhausted``)
"""
