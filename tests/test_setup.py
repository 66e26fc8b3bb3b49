"""The README's set-up: ``make demo`` and ``make test`` install within ``constraints.txt``, the
versions the tests last passed with, so that a new release cannot change CI or a user's first
run silently. A dependency added to ``pyproject.toml`` and left out of it is installed at
whatever is newest (threadpoolctl was, from its addition until session 112)."""

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def test_constraints_pin_every_dependency_the_package_declares():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *(r for extra in ("pde", "test")
                                            for r in project["optional-dependencies"][extra])]
    pinned = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            req = Requirement(line)
            pinned[canonicalize_name(req.name)] = req
    missing = [r for r in map(Requirement, declared) if canonicalize_name(r.name) not in pinned]
    assert not missing, (f"constraints.txt pins no version of {[str(r) for r in missing]}: add the version the "
                         "tests pass with (`.venv/bin/python -m pip freeze --exclude-editable`)")
    for req in map(Requirement, declared):  # each pin within what pyproject.toml asks for
        pin = pinned[canonicalize_name(req.name)]
        version = next(iter(pin.specifier)).version
        assert req.specifier.contains(version, prereleases=True), f"constraints.txt's {pin} is outside {req}"
