"""The privacy budget ledger: sequential composition, refusal past the limit, nothing charged on failure."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carekey.errors import BudgetExhausted, InvalidInput
from carekey.stats import records as r
from carekey.stats.budget import InMemoryBudgetStore, PrivacyLedger, Spend, check_charge, total
from carekey.stats.releases import Statistic, release_and_charge

ROWS = [r.ScreeningRecord("north", "F", 40 + i % 30, 150 - i % 40, 85, 70.0, 165.0, "O+", 5.0) for i in range(50)]


def test_ledger_refuses_past_its_limit():
    ledger = PrivacyLedger(InMemoryBudgetStore(), limit=1.0)
    for _ in range(10):
        ledger.charge("p1", 0.1, "count")  # ten steps of 0.1 reach exactly 1.0
    assert ledger.remaining("p1") == pytest.approx(0.0)
    with pytest.raises(BudgetExhausted) as info:
        ledger.charge("p1", 0.01, "count")
    assert info.value.status == 403 and info.value.detail["limit"] == 1.0
    assert len(ledger.store.spends("p1")) == 10  # the refused release recorded nothing
    ledger.charge("p2", 1.0, "count")  # programs have separate budgets
    with pytest.raises(BudgetExhausted):
        ledger.charge("p2", 0.5, "count")


def test_per_program_limits_and_bad_values():
    ledger = PrivacyLedger(InMemoryBudgetStore(), limit=5.0, limits={"small": 0.5})
    assert ledger.limit("small") == 0.5 and ledger.limit("other") == 5.0
    with pytest.raises(BudgetExhausted):
        ledger.charge("small", 0.6, "x")
    for eps in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(InvalidInput):
            ledger.charge("other", eps, "x")
    with pytest.raises(InvalidInput):
        PrivacyLedger(InMemoryBudgetStore(), limit=0)


@settings(max_examples=100, deadline=None)
@given(st.floats(0.1, 10), st.lists(st.floats(0.001, 3), max_size=40))
def test_accounting_adds_up(limit, requests):
    ledger = PrivacyLedger(InMemoryBudgetStore(), limit=limit)
    accepted = []
    for eps in requests:
        left_before = ledger.remaining("p")
        try:
            ledger.charge("p", eps, "q")
            accepted.append(eps)
        except BudgetExhausted:
            assert eps > left_before * (1 - 1e-12)
    assert ledger.spent("p") == pytest.approx(math.fsum(accepted))
    assert ledger.spent("p") <= limit * (1 + 1e-9)
    assert ledger.spent("p") + ledger.remaining("p") == pytest.approx(limit) or ledger.remaining("p") == 0


def test_pure_check_over_past_spends():
    past = [Spend("p", 0.4, "a"), Spend("p", 0.4, "b")]
    assert total(past) == pytest.approx(0.8)
    assert check_charge(past, 1.0, 0.2) == pytest.approx(0.0)
    with pytest.raises(BudgetExhausted):
        check_charge(past, 1.0, 0.3)


def test_release_charges_the_certified_epsilon_then_refuses():
    ledger = PrivacyLedger(InMemoryBudgetStore(), limit=1.0)
    rel = release_and_charge(ledger, "p", Statistic.HYPERTENSION, ROWS, districts=["north"], epsilon=0.6)
    assert ledger.spent("p") == pytest.approx(rel.epsilon) and rel.epsilon == pytest.approx(0.6)
    assert "hypertension" in ledger.store.spends("p")[0].label
    with pytest.raises(BudgetExhausted):
        release_and_charge(ledger, "p", Statistic.BMI, ROWS, districts=["north"], epsilon=0.6)
    assert ledger.spent("p") == pytest.approx(0.6)


def test_bad_input_costs_no_budget():
    ledger = PrivacyLedger(InMemoryBudgetStore(), limit=1.0)
    bad = [*ROWS, r.ScreeningRecord("north", "F", 40, weight_kg=-5.0, height_cm=160.0)]
    with pytest.raises(InvalidInput):
        release_and_charge(ledger, "p", Statistic.BMI, bad, districts=["north"], epsilon=0.5)
    assert ledger.spent("p") == 0.0
