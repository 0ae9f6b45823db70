"""No secret value and no token in any output or file: every command, format and error path.

Sentinel values are used for the token, for the secrets in the environment and for the secrets
Sentry already stores; the test then looks for them in everything symsync printed or wrote.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
import requests

from reconciler.emulator.testing import running_emulator
from tests.support.e2e_helpers import clean_env, sources_in, state_doc, symsync, write_tree
from tests.support.fake_sentry import Recorded, Reply, fake_sentry

pytestmark = pytest.mark.e2e

TAG = secrets.token_hex(6)
TOKEN = f"SENTINEL-TOKEN-{TAG}"
READ_TOKEN = f"SENTINEL-READONLY-{TAG}"
ENV_SECRETS = {
    "LEAK_HTTP_PW": f"SENTINEL-HTTP-{TAG}",
    "LEAK_S3_SECRET": f"SENTINEL-S3-{TAG}",
    "LEAK_GCS_KEY": f"SENTINEL-GCS-{TAG}",
}
STORED = {
    "pw": f"SENTINEL-STORED-PW-{TAG}",
    "s3": f"SENTINEL-STORED-S3-{TAG}",
}
LITERAL = f"SENTINEL-LITERAL-{TAG}"
SENTINELS = [TOKEN, READ_TOKEN, LITERAL, *ENV_SECRETS.values(), *STORED.values()]


def _http(sid: str, **extra):
    return {"id": sid, "type": "http", "name": sid, "url": f"https://{sid}.example/",
            "layout": {"type": "native"}, **extra}  # fmt: skip


REMOTE = {
    "acme/ios": [
        _http("kept", password=STORED["pw"]),
        _http("added"),
        {"id": "s3", "type": "s3", "name": "s3", "bucket": "b", "region": "us-east-1",
         "access_key": "AKIA", "secret_key": STORED["s3"], "layout": {"type": "unified"}},
        _http("hand", password=STORED["pw"]),
    ],
    "acme/android": [_http("old", password=STORED["pw"])],
}  # fmt: skip
DESIRED = {
    "acme/ios": {
        "sources": [
            _http("kept", name="renamed", password={"env": "LEAK_HTTP_PW"}),
            _http("added", password={"env": "LEAK_HTTP_PW"}),
            {"id": "s3", "type": "s3", "name": "s3 renamed", "bucket": "b",
             "region": "us-east-1", "access_key": "AKIA",
             "secret_key": {"env": "LEAK_S3_SECRET"}, "layout": {"type": "unified"}},
            {"id": "gcs", "type": "gcs", "name": "g", "bucket": "g",
             "client_email": "x@y.iam.gserviceaccount.com",
             "private_key": {"env": "LEAK_GCS_KEY"}, "layout": {"type": "native"}},
        ]
    },
    "acme/android": {
        "unmanaged": "delete",
        "sources": [_http("new", password={"env": "LEAK_HTTP_PW"})],
    },
}  # fmt: skip


class Collector:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.outputs: list[tuple[str, str]] = []

    def run(self, *args: str, env: dict[str, str], expect: set[int] | None = None) -> None:
        result = symsync(*args, env=env, cwd=self.tmp)
        label = " ".join(args)
        self.outputs.append((f"stdout of {label}", result.stdout))
        self.outputs.append((f"stderr of {label}", result.stderr))
        assert "Traceback" not in result.stderr, result.stderr
        if expect is not None:
            assert result.returncode in expect, (label, result.returncode, result.stderr)

    def check(self) -> None:
        files = [p for p in self.tmp.rglob("*") if p.is_file()]
        for path in files:
            self.outputs.append((str(path), path.read_text(encoding="utf-8", errors="replace")))
        leaks = [
            (where, sentinel)
            for where, text in self.outputs
            for sentinel in SENTINELS
            if sentinel in text
        ]
        assert not leaks, leaks
        assert len(self.outputs) > 20


def _env(url: str, token: str = TOKEN, **extra: str) -> dict[str, str]:
    return clean_env(SENTRY_URL=url, SENTRY_AUTH_TOKEN=token, **extra)


@pytest.mark.parametrize("generation", ["a", "b"])
def test_no_leak_on_the_normal_paths(tmp_path, generation):
    write_tree(tmp_path, DESIRED)
    out = Collector(tmp_path)
    with running_emulator(
        "--api-generation", generation, "--token", TOKEN, "--token", f"{READ_TOKEN}=project:read",
        state=state_doc(REMOTE),
    ) as emu:  # fmt: skip
        env = _env(emu.url, **ENV_SECRETS)
        out.run("validate", env=env, expect={0})
        out.run("schema", env=env, expect={0})
        for fmt in ("text", "markdown", "json"):
            out.run("plan", "--format", fmt, "--out", f"plan-{fmt}.json", env=env, expect={0})
            out.run("plan", "--format", fmt, "--verbose", env=env, expect={0})
        # a saved plan, made stale by a change behind symsync's back: refused
        requests.put(
            f"{emu.url}/api/0/projects/acme/android/symbol-sources/?id=old",
            json=_http("old", name="moved", password={"hidden-secret": True}),
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        ).raise_for_status()
        out.run("apply", "plan-json.json", "--yes", env=env, expect={3})
        # read-only token: writes are refused by Sentry
        out.run("apply", "--yes", "--verbose", env=_env(emu.url, READ_TOKEN, **ENV_SECRETS),
                expect={1})  # fmt: skip
        for fmt in ("markdown", "json", "text"):
            out.run("apply", "--yes", "--format", fmt, "--verbose", env=env, expect={0})
        out.run("plan", "--detailed-exitcode", env=env, expect={0})
        out.run("import", "--org", "acme", "--config-dir", "imported", env=env, expect={0})
        state = emu.state()
    stored = json.dumps(state)
    assert ENV_SECRETS["LEAK_GCS_KEY"] in stored  # the values did reach Sentry
    assert STORED["pw"] in stored
    out.check()


def test_no_leak_on_error_paths(tmp_path):
    write_tree(tmp_path, DESIRED)
    out = Collector(tmp_path)
    with running_emulator(
        "--token", TOKEN, "--fault-rate", "0.3", "--fault-seed", "3", state=state_doc(REMOTE)
    ) as emu:
        good = _env(emu.url, **ENV_SECRETS)
        bad_token = _env(emu.url, f"{TOKEN}-wrong", **ENV_SECRETS)
        for command in (("plan",), ("apply", "--yes"), ("import", "--org", "acme")):
            out.run(*command, env=bad_token, expect={1})
            out.run(*command, "--verbose", env=bad_token, expect={1})
        # a missing secret variable
        missing = dict(good)
        del missing["LEAK_GCS_KEY"]
        out.run("apply", "--yes", env=missing, expect={0, 1})
        # injected faults (500s, 502/503, dropped connections), with debug output on
        out.run("apply", "--yes", "--verbose", env={**good, "SYMSYNC_DEBUG": "1"})
        out.run("plan", "--format", "json", env=good)
        # no token at all; a URL where nothing is found
        out.run("plan", env=clean_env(**ENV_SECRETS), expect={1})
        out.run("plan", env=_env(f"{emu.url}/nothing-here", **ENV_SECRETS), expect={1})
        out.run("apply", "--yes", env=_env(f"{emu.url}/nothing-here", **ENV_SECRETS), expect={1})
    # a project file with a literal secret, and a plan file that is not a plan
    bad = tmp_path / "configs" / "acme" / "bad.yaml"
    bad.write_text(
        "sources:\n  - {id: x, type: http, name: x, url: 'u', layout: {type: native}, "
        f"password: {LITERAL}}}\n"
    )
    for command in (("validate",), ("plan",), ("apply", "--yes")):
        out.run(*command, env=_env("http://127.0.0.1:9", **ENV_SECRETS), expect={1})
    (tmp_path / "notaplan.json").write_text(
        json.dumps({"format_version": 1, "token": LITERAL, "projects": [{"x": LITERAL}]})
    )
    out.run("apply", "notaplan.json", "--yes", env=_env("http://127.0.0.1:9"), expect={1})
    # a saved plan edited by hand to show a secret value in a change's fields (which apply
    # would print) or to keep a secret on a create (a placeholder in a POST)
    change = {"action": "create", "source_id": "x", "source_type": "http",
              "source": {"id": "x", "type": "http", "name": "x", "url": "u",
                         "layout": {"type": "native"}, "password": {"env": "LEAK_HTTP_PW"}},
              "secrets": {"password": "send"}}  # fmt: skip
    edits = {
        "edited-fields.json": {"fields": {"password": {"before": None, "after": LITERAL}}},
        "edited-marked.json": {
            "fields": {"password": {"before": "(not set)", "after": LITERAL, "secret": True}}
        },
        "edited-keep.json": {"secrets": {"password": "keep"}},
    }
    for name, edit in edits.items():
        project = {"organization": "acme", "project": "ios", "changes": [{**change, **edit}]}
        (tmp_path / name).write_text(json.dumps({"format_version": 1, "projects": [project]}))
        out.run("apply", name, "--yes", env=_env("http://127.0.0.1:9"), expect={1})
        assert "not a valid symsync plan" in out.outputs[-1][1], out.outputs[-1]
    # the literal and the broken plans are the user's own files: leave them out of the check
    bad.unlink()
    (tmp_path / "notaplan.json").unlink()
    for name in edits:
        (tmp_path / name).unlink()
    out.check()


# --- known values, whatever field carries them (secrets are redacted by value) ---------------

BUNDLE_VALUE = f"SENTINEL-BUNDLE-{TAG}"
UNUSED_BUNDLE_VALUE = f"SENTINEL-UNUSED-{TAG}"
ECHO_SENTINELS = [TOKEN, BUNDLE_VALUE, UNUSED_BUNDLE_VALUE, *ENV_SECRETS.values()]
ECHO_ENV = {
    **ENV_SECRETS,
    "LEAK_HTTP_PW": "",  # empty here: SYMSYNC_SECRETS gives it
    "SYMSYNC_SECRETS": json.dumps(
        {"LEAK_HTTP_PW": BUNDLE_VALUE, "NOT_REFERENCED": UNUSED_BUNDLE_VALUE}
    ),
}


def _no_echo_leak(outputs: list[tuple[str, str]]) -> None:
    leaks = [(where, s) for where, text in outputs for s in ECHO_SENTINELS if s in text]
    assert not leaks, leaks


def test_the_token_as_the_url_or_in_it_is_never_printed(tmp_path):
    write_tree(tmp_path, DESIRED)
    out = Collector(tmp_path)
    with running_emulator("--token", TOKEN, state=state_doc(REMOTE)) as emu:
        bases = [
            TOKEN,  # SENTRY_URL=$SENTRY_AUTH_TOKEN
            f"https://sentry.io/#{TOKEN}",
            f"https://sentry.io/?token={TOKEN}",
            f"{emu.url}/{TOKEN}",  # in the path: every request misses
            f"http://{TOKEN}:{TOKEN}@127.0.0.1:9/",
        ]
        for base in bases:
            formats = ("text", "markdown", "json") if base in bases[:1] + bases[3:4] else ("text",)
            for fmt in formats:
                out.run("plan", "--format", fmt, "--verbose", env=_env(base), expect={1})
            out.run("plan", "--url", base, "--out", "p.json", env=_env(emu.url), expect={1})
            out.run("apply", "--yes", "--url", base, "--verbose", env=_env(emu.url, **ECHO_ENV),
                    expect={1})  # fmt: skip
    assert any(MASK_SHOWN in text for _, text in out.outputs)
    _no_echo_leak(out.outputs)
    out.check()


MASK_SHOWN = "***"


def _echo(recorded: Recorded) -> Reply:
    """A hostile server that answers every request with all of it: headers, URL and body."""
    echoed = {
        "headers": recorded.headers,
        "url": recorded.raw_path,
        "body": recorded.body.decode("utf-8", "replace"),
    }
    if recorded.method == "GET" and "symbol-sources" in recorded.path:
        return Reply(200, [])
    text = json.dumps(echoed)
    return Reply(400, {"detail": text, "error": f"bad request: {text}", **echoed})


def test_a_server_that_echoes_the_request_cannot_make_a_value_appear(tmp_path):
    write_tree(tmp_path, DESIRED)
    out = Collector(tmp_path)
    with fake_sentry() as server:
        server.default = _echo
        env = _env(server.url, **ECHO_ENV)
        for fmt in ("text", "markdown", "json"):
            out.run("apply", "--yes", "--format", fmt, "--verbose", env=env, expect={1})
        out.run("apply", "--yes", env={**env, "SYMSYNC_DEBUG": "1"}, expect={1})
        # an error page on reads that shows the request's headers (the token)
        server.default = lambda r: Reply(403, f"<pre>{r.headers} {r.raw_path}</pre>".encode())
        out.run("plan", "--verbose", env=env, expect={1})
        out.run("import", "--org", "acme", "--verbose", env=env, expect={1})
        sent = [r for r in server.requests if r.method == "POST"]
    # the values did go over the wire, in the bodies the server echoed back
    assert any(BUNDLE_VALUE.encode() in r.body for r in sent)
    # the echo did reach the messages, masked
    assert any("Sentry says" in text and MASK_SHOWN in text for _, text in out.outputs)
    _no_echo_leak(out.outputs)


def test_a_plan_whose_data_holds_a_secret_value_is_refused_not_shown(tmp_path):
    # An access key id someone also put in SYMSYNC_SECRETS: masking it in the plan would make
    # apply write the mask to Sentry; showing it would leak it. The plan is refused, naming it.
    access_key = "AKIA" + TAG.upper()
    desired = {"acme/ios": {"sources": [
        {"id": "s3", "type": "s3", "name": "s3", "bucket": "b", "region": "us-east-1",
         "access_key": access_key, "secret_key": {"env": "LEAK_S3_SECRET"},
         "layout": {"type": "unified"}}]}}  # fmt: skip
    write_tree(tmp_path, desired)
    out = Collector(tmp_path)
    bundle = json.dumps({"S3_ACCESS_KEY": access_key})
    with running_emulator(state=state_doc({"acme/ios": []})) as emu:
        env = _env(emu.url, **ENV_SECRETS, SYMSYNC_SECRETS=bundle)
        env["SENTRY_AUTH_TOKEN"] = "symsync-emulator"
        for args in (("plan", "--out", "p.json"), ("plan", "--format", "json"), ("apply", "--yes")):
            out.run(*args, env=env, expect={1})
            assert (
                "SYMSYNC_SECRETS entry `S3_ACCESS_KEY` in projects[acme/ios].changes[s3]"
                in (out.outputs[-1][1])
            )
        state = emu.state()
    assert not (tmp_path / "p.json").exists()
    assert sources_in(state, "acme/ios") == []
    assert all(access_key not in text for _, text in out.outputs)


def test_a_token_percent_encoded_in_part_or_lowercased_never_shows(tmp_path):
    """quote() leaves an alphanumeric token as it is, so a `%53ENTINEL...` written in --url
    must be found decoded; a URL parser lowercases what it takes for a host."""
    write_tree(tmp_path, DESIRED)
    out = Collector(tmp_path)
    encoded = f"%{ord(TOKEN[0]):02X}{TOKEN[1:]}"
    with running_emulator("--token", TOKEN, state=state_doc(REMOTE)) as emu:
        for base in (f"{emu.url}/{encoded}", f"http://u:{TOKEN}@127.0.0.1:9/{encoded}"):
            out.run("plan", "--url", base, "--out", "p.json", env=_env(emu.url), expect={1})
            for fmt in ("text", "markdown", "json"):
                out.run("plan", "--format", fmt, "--verbose", env=_env(base), expect={1})
            out.run("apply", "--yes", "--url", base, env=_env(emu.url), expect={1})
    assert not (tmp_path / "p.json").exists()
    assert all(TOKEN[1:].lower() not in text.lower() for _, text in out.outputs), out.outputs
    out.check()
