"""Every shell block of the README works when pasted: each is run with bash, in a scratch
directory holding the clone's example files, against a service started as `make serve` starts it.
A block that cannot run offline says why in an HTML comment just above it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from service_process import ROOT, start_service

PORT = 19640
SKIP = re.compile(r"<!-- not run by tests/ops/test_ops_readme\.py: (?P<why>[^>]+?) -->\s*$")


def shell_blocks() -> list[tuple[int, str, str | None]]:
    """(line number, script, reason it is not run or None) of each ```sh block."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    blocks = []
    for number, line in enumerate(lines):
        if line.strip() != "```sh":
            continue
        end = lines.index("```", number + 1)
        skipped = SKIP.match(lines[number - 1]) if number else None
        blocks.append(
            (number + 1, "\n".join(lines[number + 1 : end]), skipped["why"] if skipped else None)
        )
    return blocks


def test_the_readme_has_runnable_blocks_and_says_why_of_each_it_skips():
    blocks = shell_blocks()

    assert sum(1 for _, _, why in blocks if why is None) >= 5
    assert all(why.strip() for _, _, why in blocks if why is not None)


def test_every_runnable_readme_shell_block_succeeds(tmp_path, services):
    venv = Path(sys.executable).parents[1]
    for name in ("hooks", "fixtures"):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / ".venv").symlink_to(venv)
    env = {"CDS_AUTH": "off", "CDS_CLOCK_OVERRIDE": "on", "HOME": str(tmp_path)}  # as make serve
    services.append(start_service(PORT, tmp_path / "service.log", env))

    failures = []
    for line, script, why in shell_blocks():
        if why is not None:
            continue
        script = script.replace("127.0.0.1:8080", f"127.0.0.1:{PORT}")
        run = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", **env},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if run.returncode != 0:
            failures.append(
                f"README line {line}: exit {run.returncode}\n{script}\n{run.stderr[-2000:]}"
            )

    assert failures == [], "\n\n".join(failures)
    assert (
        (tmp_path / "timeline.html")
        .read_text(encoding="utf-8")
        .lower()
        .startswith("<!doctype html>")
    )
    # report read the store the service wrote to, from another directory, by default.
    assert (tmp_path / ".local/state/cds-service/cds-service.sqlite3").is_file()


@pytest.mark.parametrize("command", ["explain", "evaluate"])
def test_explain_and_evaluate_both_honour_the_requests_pinned_date(command, tmp_path):
    request = ROOT / "hooks/scenario-01-patient-view.json"
    args = [str(Path(sys.executable).parent / "cds-service"), command, str(request)]
    if command == "explain":
        args.append("--json")
    run = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=120,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )

    assert run.returncode == 0, run.stderr
    if command == "explain":
        import json

        assert json.loads(run.stdout)["today"] == "2026-11-23"
    else:
        assert '"cards"' in run.stdout
