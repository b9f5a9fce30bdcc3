"""schemathesis against the OpenAPI document the app serves: generated requests, valid and
invalid, to every operation. No input may cause a 5xx, and every answer must match the
document (status code, content type, body schema).

Bounded (max_examples per operation) so the whole file runs in well under a minute.
"""
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)
from schemathesis.checks import not_a_server_error

from tests.instore_world import make_world

EXAMPLES = 50


@pytest.fixture
def api_schema(app, clock):
    # Limits are tested elsewhere; here they would turn most generated calls into 429s.
    app.config.update(MALL_EARN_RATE_LIMIT="100000 per minute", MALL_CODE_ENTRY_RATE_LIMIT="100000 per minute")
    world = make_world(clock.now())
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app), world.api_key


def test_no_generated_input_causes_a_server_error(api_schema):
    """Driven by hand (schemathesis' pytest plugin does not load under pytest 9): one
    Hypothesis run per operation, positive and negative examples."""
    schema, key = api_schema
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 7
    seen = Counter()
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
               | operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            response = case.call(headers={"Authorization": f"Bearer {key}"})
            seen[response.status_code // 100] += 1
            case.validate_response(response, checks=checks)

        run()
    # Both accepted and refused inputs were exercised, and nothing answered 5xx.
    assert seen[2] > 0 and seen[4] > 0 and seen[5] == 0, seen
