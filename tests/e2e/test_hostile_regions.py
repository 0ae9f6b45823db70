"""The real CLI against hostile answers to the organization details it reads first (the region).

Whatever the details say (HTML, wrong shapes, a region elsewhere, an echo of the request, 5xx
or 429 forever, a redirect, a huge body), `plan` ends with exit 0 (the configured URL serves the
organization) or 1, never a traceback, never the token in its output, and never a request to a
region it does not follow.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from tests.support.e2e_helpers import clean_env, symsync, write_tree
from tests.support.hostile_sentry import (
    Behaviour,
    HostileSentry,
    Rule,
    echo_reply,
    html_reply,
    huge_reply,
    json_reply,
    redirect_to,
)

pytestmark = pytest.mark.e2e

TAG = secrets.token_hex(6)
TOKEN = f"hostile-token-{TAG}"
DETAILS = r"^/api/0/organizations/acme/$"
SOURCES = r"/api/0/projects/acme/ios/symbol-sources/$"


def _details(links: object) -> Behaviour:
    return json_reply(200, {"id": "1", "slug": "acme", "name": "acme", "links": links})


CASES: dict[str, tuple[Behaviour, int]] = {
    "html page": (html_reply(200), 1),
    "a list": (json_reply(200, [1, 2]), 1),
    "links not an object": (_details("https://de.sentry.io"), 0),
    "region not a string": (_details({"regionUrl": 42}), 0),
    "region null": (_details({"regionUrl": None}), 0),
    "region elsewhere, the token in its path": (
        _details({"regionUrl": f"https://evil.example/{TOKEN}"}),
        1,
    ),
    "region with credentials": (_details({"regionUrl": f"http://u:{TOKEN}@127.0.0.1"}), 1),
    "region on another scheme": (_details({"regionUrl": "https://127.0.0.1"}), 1),
    "region not a URL": (_details({"regionUrl": f"\u0000{TOKEN}\n"}), 1),
    "echo of the request": (echo_reply(400), 1),
    "404 without Sentry's body": (json_reply(404, {"nope": 1}), 1),
    "404 as Sentry": (json_reply(404, {"detail": "The requested resource does not exist"}), 1),
    "401": (json_reply(401, {"detail": "Invalid token"}), 1),
    "500 forever": (json_reply(500, {"detail": "boom"}), 1),
    "429 forever": (json_reply(429, {"detail": "slow down"}), 1),
    "redirect elsewhere": (redirect_to("http://elsewhere.invalid"), 1),
    "huge body": (huge_reply(40), 1),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_details_end_cleanly_without_leaking_the_token(name: str, tmp_path: Path) -> None:
    behaviour, code = CASES[name]
    configs = write_tree(tmp_path, {"acme/ios": {"sources": []}})
    rules = [Rule("GET", DETAILS, behaviour), Rule("GET", SOURCES, json_reply(200, []))]
    with HostileSentry(rules) as server:
        env = clean_env(SENTRY_URL=server.url, SENTRY_AUTH_TOKEN=TOKEN)
        run = symsync(
            "plan", "--config-dir", str(configs), "-v", "--timeout", "2", "--retry-budget", "1",
            env=env, timeout=60,
        )  # fmt: skip
        sent = server.requests()
    output = run.stdout + run.stderr
    assert run.returncode == code, output
    assert "Traceback" not in output and "internal error" not in output
    assert TOKEN not in output
    read_sources = [r for r in sent if r.path.endswith("/symbol-sources/")]
    assert bool(read_sources) == (code == 0)
