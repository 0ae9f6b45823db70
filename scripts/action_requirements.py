"""The action's hashed requirements file, requirements/action.txt: stamp it, or check it.

`make requirements` runs pip-compile (pip-tools) on pyproject.toml with `--generate-hashes`,
then this script with `--stamp`, which records on the file's first line a digest of what it was
made from: the `[project] dependencies` and `[build-system] requires` of pyproject.toml. The
check (`--check`, and tests/test_action_requirements.py in `make test`) needs no network:

- the digest on the first line is that of pyproject.toml now (a dependency added or changed
  without `make requirements` fails here);
- every dependency and build requirement of pyproject.toml is pinned (`name==version`), and the
  pin satisfies its specifier;
- every pin carries at least one `--hash=sha256:`, so `pip install --require-hashes` accepts the
  file and installs nothing else.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
REQUIREMENTS = ROOT / "requirements" / "action.txt"
STAMP = "# symsync: made from pyproject.toml, dependencies sha256 "
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


def declared() -> list[str]:
    """The runtime dependencies and build requirements pyproject.toml declares."""
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    return [*data["project"]["dependencies"], *data["build-system"]["requires"]]


def digest() -> str:
    text = json.dumps(sorted(declared()), separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def pins(text: str) -> dict[str, tuple[Version, int]]:
    """Name -> (pinned version, number of hashes), from a pip-compile output."""
    found: dict[str, tuple[Version, int]] = {}
    current: str | None = None
    for line in text.splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            found[current] = (Version(match.group(2)), line.count("--hash=sha256:"))
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = found[current]
            found[current] = (version, hashes + 1)
        elif not line.startswith((" ", "\t")):
            current = None
    return found


def problems(text: str) -> list[str]:
    out: list[str] = []
    first = text.splitlines()[0] if text else ""
    if first != STAMP + digest():
        out.append(
            "requirements/action.txt was not made from pyproject.toml as it is now: "
            "run `make requirements`"
        )
    pinned = pins(text)
    for spec in declared():
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        if name not in pinned:
            out.append(f"{requirement.name} (pyproject.toml) is not pinned in the file")
        elif not requirement.specifier.contains(pinned[name][0], prereleases=True):
            out.append(f"{requirement.name}=={pinned[name][0]} does not satisfy {spec}")
    out += [f"{name} has no --hash" for name, (_, hashes) in pinned.items() if hashes == 0]
    return out


def main(argv: list[str]) -> int:
    if argv == ["--stamp"]:
        text = REQUIREMENTS.read_text(encoding="utf-8")
        lines = [ln for ln in text.splitlines() if not ln.startswith(STAMP)]
        REQUIREMENTS.write_text("\n".join([STAMP + digest(), *lines]) + "\n", encoding="utf-8")
        return 0
    if argv == ["--check"]:
        found = problems(REQUIREMENTS.read_text(encoding="utf-8"))
        for line in found:
            print(f"error: {line}", file=sys.stderr)
        return 1 if found else 0
    print("usage: action_requirements.py --stamp | --check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
