"""The image and the package as an operator gets them: lock file, Dockerfile, licence, discovery."""

from __future__ import annotations

import re
import tomllib

from service_process import ROOT

from cds_service.services import SERVICES

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LOCK = (ROOT / "requirements.lock").read_text(encoding="utf-8")
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def _name(requirement: str) -> str:
    return (
        re.split(r"[\[=<>~! ]", requirement, maxsplit=1)[0]
        .lower()
        .replace("_", "-")
        .replace(".", "-")
    )


def test_the_lock_pins_every_runtime_dependency_at_the_version_pyproject_pins():
    locked = {
        _name(m["name"]): m["version"]
        for m in re.finditer(r"^(?P<name>[A-Za-z0-9_.\-]+)==(?P<version>\S+) \\$", LOCK, re.M)
    }
    pinned = {_name(r): r.split("==", 1)[1] for r in PYPROJECT["project"]["dependencies"]}

    assert {name: locked.get(name) for name in pinned} == pinned


def test_every_locked_requirement_carries_a_hash():
    entries = re.split(r"\n(?=[A-Za-z0-9])", LOCK.split("\n\n", 1)[-1].strip())
    requirements = [e for e in entries if "==" in e.split("\n", 1)[0]]

    assert requirements
    assert [e.split(" ", 1)[0] for e in requirements if "--hash=sha256:" not in e] == []


def test_the_image_installs_from_the_lock_with_hashes_runs_unprivileged_and_checks_liveness():
    assert "pip install --require-hashes -r requirements.lock" in DOCKERFILE
    assert "pip install --no-deps ." in DOCKERFILE
    assert re.search(r"^USER (?!root)\w+", DOCKERFILE, re.M)
    assert re.search(r"^HEALTHCHECK .*/health/live", DOCKERFILE, re.M | re.S)


def test_the_docker_context_admits_exactly_what_the_image_copies():
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    admitted = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copied = {
        source.rstrip("/").removeprefix("./")
        for line in DOCKERFILE.splitlines()
        if line.startswith("COPY ")
        for source in line.split()[1:-1]
    }

    assert "*" in ignore
    assert copied == admitted
    assert all((ROOT / path).exists() for path in copied)


def test_licence_and_metadata():
    project = PYPROJECT["project"]

    assert project["license"] == "Apache-2.0"
    assert "Apache License" in (ROOT / "LICENSE").read_text(encoding="utf-8")[:200]
    assert "Version 2.0" in (ROOT / "LICENSE").read_text(encoding="utf-8")[:200]
    assert project["urls"]


def test_discovery_states_the_usage_requirements_of_each_service():
    for service in SERVICES:
        text = service.discovery()["usageRequirements"]
        assert "CDS_CLIENTS" in text
        for key in service.required:
            assert key in text
