"""Project details (``builtinSymbolSources``, the legacy ``symbolSources`` string) and the
organization's list of built-in repositories, as Sentry serves them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from reconciler.emulator.state import EmulatorState
from reconciler.emulator.testing import EmulatorHandle, running_emulator, serving_emulator
from tests.support.emulator_support import ORG, http_source

ADMIN, WRITE, READ, ORG_READ = "admin-token", "write-token", "read-token", "org-token"
TOKENS = {
    ADMIN: frozenset({"project:admin", "org:read"}),
    WRITE: frozenset({"project:write"}),
    READ: frozenset({"project:read"}),
    ORG_READ: frozenset({"org:read"}),
}
DETAILS = f"/api/0/projects/{ORG}/ios/"
BUILTINS = f"/api/0/organizations/{ORG}/builtin-symbol-sources/"
SECRET = "sentinel-password-7c1e"


def _state() -> dict[str, object]:
    return {
        "organizations": {
            ORG: {
                "projects": {
                    "ios": {"symbol_sources": [http_source("web", password=SECRET)]},
                    "set": {"symbol_sources": [], "builtin_symbol_sources": ["unity"]},
                }
            }
        }
    }


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[EmulatorHandle]:
    with serving_emulator(_state(), state_path=tmp_path / "state.json", tokens=TOKENS) as h:
        yield h


def _call(
    emu: EmulatorHandle, method: str, path: str = DETAILS, token: str = ADMIN, **kw: object
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.request(method, emu.url + path, headers=headers, timeout=10, **kw)  # type: ignore[arg-type]


def _file(emu: EmulatorHandle) -> dict[str, object]:
    return json.loads(Path(emu.state_path).read_text(encoding="utf-8"))


def test_details_of_a_project_that_never_set_builtins_answer_sentrys_default(
    emu: EmulatorHandle,
) -> None:
    body = _call(emu, "GET").json()
    assert body["slug"] == "ios" and body["name"] == "ios" and body["id"]
    assert "platform" in body
    assert body["builtinSymbolSources"] == ["ios", "microsoft", "android", "nuget"]


def test_legacy_symbol_sources_is_a_json_string_with_secrets_hidden(emu: EmulatorHandle) -> None:
    response = _call(emu, "GET")
    assert SECRET not in response.text
    sources = json.loads(response.json()["symbolSources"])
    assert sources[0]["id"] == "web"
    assert sources[0]["password"] == {"hidden-secret": True}


def test_put_sets_builtins_alone_and_keeps_the_sources(emu: EmulatorHandle) -> None:
    response = _call(emu, "PUT", json={"builtinSymbolSources": ["nuget", "microsoft"]})
    assert response.status_code == 200
    assert response.json()["builtinSymbolSources"] == ["nuget", "microsoft"]
    assert _call(emu, "GET").json()["builtinSymbolSources"] == ["nuget", "microsoft"]
    stored = _file(emu)["organizations"][ORG]["projects"]["ios"]  # type: ignore[index]
    assert stored["builtin_symbol_sources"] == ["nuget", "microsoft"]
    assert stored["symbol_sources"][0]["password"] == SECRET


def test_an_empty_list_is_stored_not_taken_for_never_set(emu: EmulatorHandle) -> None:
    assert _call(emu, "PUT", json={"builtinSymbolSources": []}).status_code == 200
    assert _call(emu, "GET").json()["builtinSymbolSources"] == []


def test_put_without_the_field_changes_nothing(emu: EmulatorHandle) -> None:
    response = _call(emu, "PUT", path=f"/api/0/projects/{ORG}/set/", json={"name": "x"})
    assert response.status_code == 200
    assert response.json()["builtinSymbolSources"] == ["unity"]


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        ("nuget", ['Expected a list of items but got type "str".']),
        ({"a": 1}, ['Expected a list of items but got type "dict".']),
        (["nuget", {"x": 1}], {"1": ["Not a valid string."]}),
        ([True], {"0": ["Not a valid string."]}),
        (None, ["This field may not be null."]),
    ],
)
def test_a_value_that_is_not_a_list_of_strings_is_400_in_drf_shape(
    emu: EmulatorHandle, value: object, errors: object
) -> None:
    response = _call(emu, "PUT", json={"builtinSymbolSources": value})
    assert response.status_code == 400
    assert response.json() == {"builtinSymbolSources": errors}
    assert _call(emu, "GET").json()["builtinSymbolSources"] == [
        "ios", "microsoft", "android", "nuget"
    ]  # fmt: skip


def test_read_only_token_may_read_but_not_set_a_non_empty_list(emu: EmulatorHandle) -> None:
    assert _call(emu, "GET", token=READ).status_code == 200
    refused = _call(emu, "PUT", token=READ, json={"builtinSymbolSources": ["nuget"]})
    assert refused.status_code == 403
    assert _call(emu, "PUT", token=WRITE, json={"builtinSymbolSources": ["nuget"]}).ok


def test_unknown_project_is_404(emu: EmulatorHandle) -> None:
    assert _call(emu, "GET", path=f"/api/0/projects/{ORG}/nope/").status_code == 404


def test_organization_builtins_list_open_source_keys_and_hosted_ones_sorted_by_name(
    emu: EmulatorHandle,
) -> None:
    response = _call(emu, "GET", path=BUILTINS)
    assert response.status_code == 200
    items = response.json()
    keys = {item["sentry_key"] for item in items}
    assert {"microsoft", "nuget", "unity", "ios", "android", "steam"} <= keys
    assert "nintendo" not in keys
    assert [item["name"] for item in items] == sorted(item["name"] for item in items)
    assert all(set(item) == {"sentry_key", "id", "name", "hidden"} for item in items)


def test_organization_builtins_need_org_read(emu: EmulatorHandle) -> None:
    assert _call(emu, "GET", path=BUILTINS, token=READ).status_code == 403
    assert _call(emu, "GET", path=BUILTINS, token=ORG_READ).status_code == 200
    assert (
        _call(emu, "GET", path="/api/0/organizations/nope/builtin-symbol-sources/").status_code
        == 404
    )


def test_builtins_survive_a_restart_from_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    big = {f"p{i}": {"symbol_sources": [http_source("web", url="x" * 3000)]} for i in range(120)}
    path.write_text(json.dumps({"organizations": {ORG: {"projects": big}}}), encoding="utf-8")
    state = EmulatorState.load(path)
    project = state.find_project(ORG, "p1")
    assert project is not None
    with state.lock:
        project.builtin_symbol_sources = ["steam"]
        state.commit(project)
    # No clean stop: the next start reads the file and lays the journal over it.
    again = EmulatorState.load(path)
    restored = again.find_project(ORG, "p1")
    assert restored is not None and restored.builtin_symbol_sources == ["steam"]
    assert restored.symbol_sources[0]["id"] == "web"
    state.close()


def test_emulator_project_option_creates_empty_projects() -> None:
    with running_emulator("--project", "acme/ios", "--project", "beta/web") as emu:
        headers = {"Authorization": "Bearer symsync-emulator"}
        for path in ("/api/0/projects/acme/ios/symbol-sources/",
                     "/api/0/projects/beta/web/symbol-sources/"):  # fmt: skip
            response = requests.get(emu.url + path, headers=headers, timeout=10)
            assert response.status_code == 200 and response.json() == []


def test_a_body_that_is_not_an_object_is_400_in_drf_shape(emu: EmulatorHandle) -> None:
    response = _call(emu, "PUT", json=["nuget"])
    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["Invalid data. Expected a dictionary, but got list."]
    }


def test_read_only_token_may_store_an_empty_list_unverified(emu: EmulatorHandle) -> None:
    """Sentry checks the member's right per field and only for a value that is set; whether an
    empty list from a read-only token is then stored was read from its code, not confirmed."""
    response = _call(emu, "PUT", token=READ, json={"builtinSymbolSources": []})
    assert response.status_code == 200
    assert _call(emu, "GET").json()["builtinSymbolSources"] == []
