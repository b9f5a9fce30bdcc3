"""The hostile-input walk of tests/unit/test_fuzz.py on PostgreSQL, which refuses what SQLite
stores without a word: NUL bytes in text, integers beyond 32 bits, strings longer than their
column. Every 5xx found here is a value the edge let through."""
import time

from tests.fuzz import Fuzzer, build_world, login, unlimited


def test_no_hostile_input_causes_a_server_error_on_postgresql(pg_app, clock):
    unlimited(pg_app)
    params = build_world(clock.now())
    started = time.monotonic()
    report = Fuzzer(pg_app, params, login).run()
    elapsed = time.monotonic() - started
    print(f"fuzz (PostgreSQL): {report.summary()}\n{elapsed:.1f} s")
    assert report.requests > 3000
    assert not report.failures, report.summary()
    assert report.requests < 8000  # bounded: about 30-40 s per tier on an idle machine
