"""Property-based requests generated from the OpenAPI schema, sent to the live server:
whatever the input, never a 5xx; and the chat API's responses (status, content type,
body) are the ones its schema documents.

The schema comes from the app object at import (it does not depend on settings or
state); the requests go to the live server of the session.
"""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from assistant.api import create_app
from assistant.settings import Settings

pytestmark = pytest.mark.slow


schema = schemathesis.openapi.from_dict(create_app(Settings(_env_file=None)).openapi())

# The routes of the chat API (the channel webhooks have their own tests).
DOCUMENTED = re.compile(r"^/(api/(chat|conversations|feedback|sources)|v1/|healthz|readyz)")


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_server_errors_and_documented_responses(case, live_server):
    response = case.call(base_url=live_server.url, timeout=30)
    assert response.status_code < 500, response.text
    if not DOCUMENTED.match(case.operation.path):
        return
    case.validate_response(
        response,
        checks=[status_code_conformance, content_type_conformance, response_schema_conformance],
    )
