"""`_org.yaml`: shared definitions and defaults, `use:` entries, `defaults: false` and
`builtin:`, with the exact `PATH:LINE:COLUMN: message` in whichever file holds the mistake."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from reconciler.config.loader import load_tree
from reconciler.config.project_file import HttpSource

ORG_FILE = """\
sources:
  - id: corp-symbols
    type: http
    name: Corp symbol server
    url: https://symbols.example.com/
    layout: {type: native}
    username: ci
    password: {env: CORP_SYMBOLS_PASSWORD}
  - id: nightly
    type: http
    url: https://nightly.example.com/
    layout: {type: symstore}
defaults:
  sources: [corp-symbols]
  builtin: [microsoft, nuget]
"""
OF = "configs/acme/_org.yaml"
F = "configs/acme/ios.yaml"


@pytest.fixture
def configs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "configs"
    (root / "acme").mkdir(parents=True)
    return root


def write(root: Path, relative: str, content: str) -> None:
    (root / relative).write_text(textwrap.dedent(content), encoding="utf-8")


def load(root: Path, project: str, org: str = ORG_FILE) -> tuple[list[str], list]:
    write(root, "acme/_org.yaml", org)
    write(root, "acme/ios.yaml", project)
    result = load_tree(Path("configs"))
    return [str(d) for d in result.diagnostics], result.projects


def test_defaults_append_the_shared_sources_and_set_the_builtins(configs: Path) -> None:
    diagnostics, projects = load(configs, "sources: []\n")
    assert diagnostics == []
    (project,) = projects
    (source,) = project.sources
    assert isinstance(source, HttpSource)
    assert (source.id, source.url, source.password.env) == (
        "corp-symbols", "https://symbols.example.com/", "CORP_SYMBOLS_PASSWORD"
    )  # fmt: skip
    assert project.builtin == ("microsoft", "nuget")


def test_defaults_come_after_the_files_own_sources_in_order(configs: Path) -> None:
    project_file = """\
        sources:
          - {id: own, type: http, url: https://own/, layout: {type: native}}
    """
    _, projects = load(configs, project_file)
    assert [s.id for s in projects[0].sources] == ["own", "corp-symbols"]


def test_defaults_false_takes_nothing(configs: Path) -> None:
    diagnostics, projects = load(configs, "defaults: false\nsources: []\n")
    assert diagnostics == []
    assert projects[0].sources == [] and projects[0].builtin is None


def test_a_projects_own_builtin_wins_over_the_defaults(configs: Path) -> None:
    _, projects = load(configs, "builtin: [unity]\nsources: []\n")
    assert projects[0].builtin == ("unity",)
    _, projects = load(configs, "builtin: []\nsources: []\n")
    assert projects[0].builtin == ()


def test_use_with_overrides_and_a_second_id_uses_one_definition_twice(configs: Path) -> None:
    project_file = """\
        sources:
          - use: corp-symbols
            url: https://mirror.example.com/
          - use: corp-symbols
            id: corp-eu
            layout: {type: symstore, casing: lowercase}
    """
    diagnostics, projects = load(configs, project_file)
    assert diagnostics == []
    first, second = projects[0].sources
    assert (first.id, first.url, first.name) == (
        "corp-symbols", "https://mirror.example.com/", "Corp symbol server"
    )  # fmt: skip
    assert (second.id, second.url) == ("corp-eu", "https://symbols.example.com/")
    assert (second.layout.type, second.layout.casing) == ("symstore", "lowercase")
    # Listed with use: so not appended again by the defaults.
    assert len(projects[0].sources) == 2


def test_a_file_naming_a_default_id_itself_does_not_get_it_again(configs: Path) -> None:
    diagnostics, projects = load(configs, "sources:\n  - {id: corp-symbols, state: absent}\n")
    assert diagnostics == []
    assert [(s.id, s.state) for s in projects[0].sources] == [("corp-symbols", "absent")]


def test_unknown_use_says_did_you_mean_at_the_use_line(configs: Path) -> None:
    diagnostics, projects = load(configs, "sources:\n  - use: corp-symbol\n")
    assert diagnostics == [
        f"{F}:2:10: `use: corp-symbol`: {OF} has no definition with this id; did you mean "
        "`corp-symbols`?"
    ]
    assert projects == []


def test_use_without_an_org_file_says_where_to_define_it(configs: Path) -> None:
    write(configs, "acme/ios.yaml", "sources:\n  - use: corp\n")
    diagnostics = [str(d) for d in load_tree(Path("configs")).diagnostics]
    assert diagnostics == [
        f"{F}:2:10: `use: corp` names a shared definition, but there is no "
        "configs/acme/_org.yaml: write the definition there under `sources:`, or write the "
        "source out in full"
    ]


def test_type_cannot_be_overridden(configs: Path) -> None:
    diagnostics, _ = load(configs, "sources:\n  - use: corp-symbols\n    type: s3\n")
    assert diagnostics == [
        f"{F}:3:11: `type` cannot be overridden in `use: corp-symbols`: a definition keeps its "
        "type; remove `type`, or write the source out in full instead of `use:`"
    ]


def test_an_override_mistake_is_reported_in_the_project_file(configs: Path) -> None:
    diagnostics, _ = load(configs, "sources:\n  - use: corp-symbols\n    bucket: b\n")
    assert len(diagnostics) == 1
    assert diagnostics[0].startswith(f"{F}:3:5: source `corp-symbols`: `bucket` is not a field")


def test_a_definition_mistake_is_reported_in_the_org_file(configs: Path) -> None:
    broken = ORG_FILE.replace("layout: {type: symstore}", "layout: {type: symstor}")
    diagnostics, projects = load(configs, "sources: []\n", broken)
    assert len(diagnostics) == 1
    assert diagnostics[0].startswith(f"{OF}:12:20: source `nightly`: `layout.type`")
    assert projects[0].sources[0].id == "corp-symbols"  # the valid definitions still serve


def test_a_definition_must_not_be_absent(configs: Path) -> None:
    org = ORG_FILE.replace("defaults:", "  - {id: gone, state: absent}\ndefaults:")
    diagnostics, _ = load(configs, "sources: []\n", org)
    assert diagnostics == [
        f"{OF}:13:23: source `gone`: a shared definition must not carry `state: absent`: to "
        "delete a source in a project, write `- {id: ID, state: absent}` in that project's file"
    ]


def test_defaults_naming_an_unknown_definition_say_did_you_mean(configs: Path) -> None:
    org = ORG_FILE.replace("sources: [corp-symbols]", "sources: [corp-symbol]")
    diagnostics, _ = load(configs, "sources: []\n", org)
    assert diagnostics == [
        f"{OF}:14:13: `defaults.sources` names `corp-symbol`, which is not defined under "
        "`sources:` of this file; did you mean `corp-symbols`?"
    ]


def test_builtin_duplicates_are_errors_and_undocumented_keys_warnings(configs: Path) -> None:
    diagnostics, projects = load(configs, "builtin: [nuget, steem, nuget]\nsources: []\n")
    assert diagnostics == [
        f"{F}:1:18: warning: `builtin`: `steem` is not a built-in repository Sentry documents "
        "(did you mean `steam`?); `plan` refuses it unless the organization offers it",
        f"{F}:1:25: `builtin`: `nuget` is listed twice (first at line 1): each built-in "
        "repository may appear once; remove one",
    ]
    assert projects == []


def test_org_file_of_an_organization_without_project_files_is_still_checked(
    configs: Path,
) -> None:
    write(configs, "acme/_org.yaml", "defaults:\n  sourcs: []\n")
    diagnostics = [str(d) for d in load_tree(Path("configs")).diagnostics]
    assert len(diagnostics) == 1 and diagnostics[0].startswith(f"{OF}:2:3:")


def test_other_underscore_files_stay_ignored(configs: Path) -> None:
    write(configs, "acme/_draft.yaml", "not: [valid")
    write(configs, "acme/ios.yaml", "sources: []\n")
    result = load_tree(Path("configs"))
    assert result.diagnostics == [] and len(result.projects) == 1


def test_org_file_is_read_once_per_organization(
    configs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconciler.config import loader

    reads: list[str] = []
    real = loader.load_org_file

    def counting(path: Path, shown: str) -> object:
        reads.append(shown)
        return real(path, shown)

    monkeypatch.setattr(loader, "load_org_file", counting)
    write(configs, "acme/_org.yaml", ORG_FILE)
    for name in ("a", "b", "c"):
        write(configs, f"acme/{name}.yaml", "sources: []\n")
    result = load_tree(Path("configs"))
    assert len(result.projects) == 3 and reads == [OF]


def test_a_use_entry_cannot_be_absent(configs: Path) -> None:
    diagnostics, _ = load(configs, "sources:\n  - use: corp-symbols\n    state: absent\n")
    assert diagnostics == [
        f"{F}:3:12: `use: corp-symbols` cannot be `state: absent`: to delete the source in this "
        "project, write `- {id: ID, state: absent}` instead"
    ]


def test_sources_of_the_wrong_shape_are_reported_with_defaults_too(configs: Path) -> None:
    diagnostics, projects = load(configs, "sources: 5\n")
    assert len(diagnostics) == 1 and diagnostics[0].startswith(f"{F}:1:10: `sources` must be")
    assert projects == []
