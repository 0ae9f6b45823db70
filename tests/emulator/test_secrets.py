"""No secret value ever leaves the emulator except through the control endpoint that returns the
state: Sentry answers every secret field with a placeholder (sentinel values show any leak)."""

from __future__ import annotations

import pytest
import requests

from reconciler.emulator.testing import serving_emulator
from tests.support.emulator_support import (
    AUTH,
    ORG,
    PLACEHOLDER,
    gcs_source,
    http_source,
    s3_source,
    state_of,
)

SENTINELS = ("pw-SENTINEL-A", "s3-SENTINEL-B", "gcs-SENTINEL-C", "new-SENTINEL-D", "tok-SENTINEL")
STORED = [
    http_source("web", password=SENTINELS[0]),
    s3_source("bucket", secret_key=SENTINELS[1]),
    gcs_source("gcs", private_key=SENTINELS[2]),
]
SOURCES = f"/api/0/projects/{ORG}/ios/symbol-sources/"


@pytest.mark.parametrize("generation", ["a", "b"])
def test_no_response_log_or_request_record_holds_a_secret(generation: str) -> None:
    tokens = {SENTINELS[4]: frozenset({"project:admin"})}
    auth = {"Authorization": f"Bearer {SENTINELS[4]}"}
    with serving_emulator(
        state_of({"ios": STORED}),
        generation=generation,
        tokens=tokens,
        fault_rate=0.2,
        fault_seed=5,
    ) as handle:
        calls = [
            ("GET", "", None),
            ("GET", "?id=bucket", None),
            ("PUT", "?id=web", {**STORED[0], "password": PLACEHOLDER, "name": "x"}),
            ("PUT", "?id=bucket", {**STORED[1], "region": None}),  # 400 with the list
            ("PUT", "?id=gcs", {**STORED[2], "private_key": SENTINELS[3], "url": "x"}),
            ("POST", "", http_source("new", password=SENTINELS[3])),
            ("POST", "", {**STORED[0]}),  # duplicate
            ("POST", "", {"password": SENTINELS[3]}),  # no type
            ("PUT", "?id=web", {**STORED[0], "id": "renamed", "password": PLACEHOLDER}),
            ("DELETE", "?id=new", None),
        ]
        bodies = []
        for method, query, body in calls * 3:
            try:
                response = requests.request(
                    method, handle.url + SOURCES + query, json=body, headers=auth, timeout=10
                )
            except requests.ConnectionError:
                continue
            bodies.append(response.text + str(response.headers))
        unauthorized = requests.get(handle.url + SOURCES, headers=AUTH, timeout=10)
        bodies.append(unauthorized.text)
        log = handle.stderr()
        records = str(handle.requests())
        state = str(handle.state())
    assert log.count("\n") >= len(calls) * 3
    for sentinel in SENTINELS:
        assert all(sentinel not in text for text in bodies), sentinel
        assert sentinel not in log
        assert sentinel not in records
    assert SENTINELS[1] in state  # the control endpoint does return secrets in clear
