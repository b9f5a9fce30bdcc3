from hypothesis import HealthCheck, given, settings

from tests.ledger_properties import ops, run_and_check


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=ops)
def test_random_ledger_histories_keep_points_conserved_on_sqlite(app, tiers, clock, sequence):
    run_and_check(sequence, clock)
