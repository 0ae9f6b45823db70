"""End to end: where apply finds secret values, and that it checks all of them before any write.

The real CLI against the real emulator: `{env: NAME}` from the environment, else from
SYMSYNC_SECRETS; a missing variable anywhere stops every project; a malformed SYMSYNC_SECRETS
stops apply before it reads anything, and its content never shows.
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

import pytest

from reconciler.emulator.testing import running_emulator
from tests.support.e2e_helpers import (
    EMULATOR_TOKEN,
    api_requests,
    clean_env,
    sources_in,
    state_doc,
    symsync,
    write_tree,
)

pytestmark = pytest.mark.e2e

TAG = secrets.token_hex(6)
FROM_ENV = f"SENTINEL-FROM-ENV-{TAG}"
FROM_BUNDLE = f"SENTINEL-FROM-BUNDLE-{TAG}"
UNUSED = f"SENTINEL-UNUSED-{TAG}"


def _http(sid: str, **extra: object) -> dict[str, object]:
    return {"id": sid, "type": "http", "name": sid, "url": f"https://{sid}.example/",
            "layout": {"type": "native"}, **extra}  # fmt: skip


REMOTE: dict[str, list[dict[str, object]]] = {
    "acme/ios": [_http("old")],
    "acme/android": [],
    "acme/web": [_http("kept", password="stored-by-sentry")],
}
DESIRED = {
    "acme/ios": {
        "sources": [
            _http("ios-new", password={"env": "IOS_PW"}),
            {"id": "old", "state": "absent"},
        ]
    },
    "acme/android": {
        "sources": [
            _http("android-new", password={"env": "ANDROID_PW"}),
            {
                "id": "android-s3",
                "type": "s3",
                "name": "s3",
                "bucket": "b",
                "region": "us-east-1",
                "access_key": "AKIAEXAMPLE",
                "secret_key": {"env": "ANDROID_S3"},
                "layout": {"type": "unified"},
            },
        ]
    },
    # a kept secret needs no variable
    "acme/web": {"sources": [_http("kept", name="renamed", password={"env": "WEB_PW"})]},
}


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    return write_tree(tmp_path, DESIRED)


def _env(url: str, **extra: str) -> dict[str, str]:
    return clean_env(SENTRY_URL=url, SENTRY_AUTH_TOKEN=EMULATOR_TOKEN, **extra)


def _writes(log: list[dict[str, object]]) -> list[tuple[str, str, str]]:
    return [r for r in api_requests(log) if r[0] != "GET"]  # type: ignore[arg-type]


def test_every_plan_format_names_the_variables_apply_will_read(configs: Path) -> None:
    with running_emulator(state=state_doc(REMOTE)) as emu:
        env = _env(emu.url)  # plan needs none of them
        runs = {
            fmt: symsync("plan", "--config-dir", str(configs), "--format", fmt, env=env)
            for fmt in ("text", "markdown", "json")
        }
    for fmt, run in runs.items():
        assert run.returncode == 0, (fmt, run.stderr)
    document = json.loads(runs["json"].stdout)
    projects = {f"{p['organization']}/{p['project']}": p for p in document["projects"]}
    assert projects["acme/android"]["needs_variables"] == ["ANDROID_PW", "ANDROID_S3"]
    assert projects["acme/ios"]["needs_variables"] == ["IOS_PW"]
    assert projects["acme/web"]["needs_variables"] == []
    text = runs["text"].stdout
    assert "  apply reads: ANDROID_PW, ANDROID_S3\n" in text
    assert "  apply reads: IOS_PW\n" in text
    assert "Apply reads 3 secret variable(s): ANDROID_PW, ANDROID_S3, IOS_PW" in text
    assert "WEB_PW" not in text.split("acme/web")[1].split("\n\n")[0]
    markdown = runs["markdown"].stdout
    assert "Secret variables apply reads: `ANDROID_PW`, `ANDROID_S3`" in markdown
    assert "Secret variables apply reads: `IOS_PW`" in markdown
    assert "3 secret variable(s)" in markdown


def test_one_missing_variable_anywhere_writes_nothing_anywhere(
    configs: Path, tmp_path: Path
) -> None:
    # IOS_PW is set; ANDROID_PW is unset and ANDROID_S3 empty: both count as missing
    plan_file = tmp_path / "plan.json"
    with running_emulator(state=state_doc(REMOTE)) as emu:
        made = symsync(
            "plan", "--config-dir", str(configs), "--out", str(plan_file), env=_env(emu.url)
        )
        assert made.returncode == 0, made.stderr
        env = _env(emu.url, IOS_PW=FROM_ENV, ANDROID_S3="")
        runs = {
            "fresh plan": symsync("apply", "--config-dir", str(configs), "--yes", env=env),
            "saved plan": symsync(
                "apply", str(plan_file), "--config-dir", str(configs), "--yes", env=env
            ),
        }
        log, state = emu.requests(), emu.state()

    assert _writes(log) == []
    assert state == state_doc(REMOTE)
    for how, run in runs.items():
        assert run.returncode == 1, (how, run.stdout + run.stderr)
        assert "2 secret variable(s) unset or empty" in run.stderr, how
        assert "nothing was written to any project" in run.stderr
        assert "ANDROID_PW: acme/android source `android-new` password" in run.stderr
        assert "ANDROID_S3: acme/android source `android-s3` secret_key" in run.stderr
        assert not re.search(r"\bIOS_PW:", run.stderr)  # it is set
        assert "Traceback" not in run.stderr
        assert FROM_ENV not in run.stdout + run.stderr


def test_values_from_symsync_secrets_reach_sentry_and_never_show(configs: Path) -> None:
    bundle = json.dumps(
        {
            "IOS_PW": "overridden-by-env",
            "ANDROID_PW": FROM_BUNDLE,
            "ANDROID_S3": FROM_BUNDLE + "-s3",
            "NOT_USED_BY_ANY_FILE": UNUSED,
        }
    )
    with running_emulator(state=state_doc(REMOTE)) as emu:
        env = _env(emu.url, IOS_PW=FROM_ENV, SYMSYNC_SECRETS=bundle)
        run = symsync("apply", "--config-dir", str(configs), "--yes", "--verbose", env=env)
        again = symsync("plan", "--config-dir", str(configs), "--detailed-exitcode", env=env)
        state = emu.state()

    assert run.returncode == 0, run.stdout + run.stderr
    assert again.returncode == 0, again.stdout + again.stderr
    by_id = {s["id"]: s for key in DESIRED for s in sources_in(state, key)}
    assert by_id["ios-new"]["password"] == FROM_ENV  # the environment first
    assert by_id["android-new"]["password"] == FROM_BUNDLE
    assert by_id["android-s3"]["secret_key"] == FROM_BUNDLE + "-s3"
    assert by_id["kept"]["password"] == "stored-by-sentry"
    for text in (run.stdout, run.stderr, again.stdout, again.stderr):
        for value in (FROM_ENV, FROM_BUNDLE, UNUSED, "overridden-by-env"):
            assert value not in text


MALFORMED = {
    "trailing comma": ('{"IOS_PW": "' + FROM_BUNDLE + '",}', "is not valid JSON (Expecting"),
    "non-string value": (json.dumps({"IOS_PW": [FROM_BUNDLE]}), "the value of `IOS_PW` is an"),
    "bad name": (json.dumps({FROM_BUNDLE: "x"}), "name number 1 is not a variable name"),
}


def test_a_malformed_symsync_secrets_stops_apply_before_anything(configs: Path) -> None:
    with running_emulator(state=state_doc(REMOTE)) as emu:
        for case, (bundle, says) in MALFORMED.items():
            env = _env(
                emu.url,
                IOS_PW=FROM_ENV,
                ANDROID_PW=FROM_ENV,
                ANDROID_S3=FROM_ENV,
                SYMSYNC_SECRETS=bundle,
            )
            run = symsync("apply", "--config-dir", str(configs), "--yes", env=env)
            assert emu.requests() == [], case  # not even a read
            assert run.returncode == 1, (case, run.stdout + run.stderr)
            assert run.stderr.startswith("error: SYMSYNC_SECRETS"), (case, run.stderr)
            assert says in run.stderr, (case, run.stderr)
            assert "Traceback" not in run.stderr
            assert FROM_BUNDLE not in run.stdout + run.stderr, case
        # plan needs no secret: it only warns that apply will refuse it
        plan = symsync("plan", "--config-dir", str(configs), env=env)
    assert plan.returncode == 0, plan.stderr
    assert "warning: SYMSYNC_SECRETS" in plan.stderr and "apply will refuse it" in plan.stderr
    assert FROM_BUNDLE not in plan.stdout + plan.stderr
