"""pyproject.toml, environment.yml and constraints.txt must agree."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
_REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(?:\[[^\]]*\])?\s*(.*)$")


def _split(requirement: str) -> tuple[str, str]:
    m = _REQ.match(requirement)
    assert m, requirement
    return m.group(1), m.group(2).replace(" ", "")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for _extra, items in project["optional-dependencies"].items():
        reqs += [r for r in items if not r.startswith("mtop[")]
    return dict(_split(r) for r in reqs)


def conda_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out: dict[str, str] = {}
    for dep in env["dependencies"]:
        assert isinstance(dep, str), f"unexpected pip section in environment.yml: {dep}"
        name, spec = _split(dep)
        if name not in ("python", "pip"):
            out[name] = spec
    return out


def test_environment_yml_matches_pyproject() -> None:
    mapping = yaml.safe_load((ROOT / "conda-names.yml").read_text())
    expected = {_norm(mapping.get(name, name)): spec for name, spec in pyproject_requirements().items()}
    actual = {_norm(name): spec for name, spec in conda_requirements().items()}
    assert actual == expected


def test_extras_declared() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert {"notebook", "reports", "live", "dev", "all"} <= set(extras)


def test_constraints_pin_every_declared_package() -> None:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt must pin exact versions: {line!r}"
            pins[_norm(name)] = version
    missing = sorted(_norm(n) for n in pyproject_requirements() if _norm(n) not in pins)
    assert not missing, f"not pinned in constraints.txt: {missing}"


def test_packaged_config_is_the_top_level_one() -> None:
    assert (ROOT / "mtop" / "config.yaml").read_bytes() == (ROOT / "config.yaml").read_bytes()
