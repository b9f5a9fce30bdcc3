"""Hostile input on every route as every role, on SQLite (tests/fuzz.py says how routes and
fields are found). PostgreSQL, which refuses NUL bytes and out-of-range integers that SQLite
stores, has the same walk in tests/integration/test_fuzz_pg.py."""
import time

from tests.fuzz import Fuzzer, build_world, login, unlimited


def test_no_hostile_input_causes_a_server_error_or_breaks_an_invariant(app, clock):
    unlimited(app)
    params = build_world(clock.now())
    started = time.monotonic()
    report = Fuzzer(app, params, login).run()
    elapsed = time.monotonic() - started
    print(f"fuzz (SQLite): {report.summary()}\n{elapsed:.1f} s")
    assert report.requests > 3000
    assert not report.failures, report.summary()
    assert report.requests < 8000  # bounded: about 30-40 s per tier on an idle machine
