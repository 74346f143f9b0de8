"""A broken knowledge file stops the service at start-up with a message naming the problem."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cds_service.cli import main
from cds_service.errors import ConfigError
from cds_service.rules.loader import KNOWLEDGE_DIR, load_knowledge


@pytest.fixture
def knowledge_copy(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


RULE = "rules/lapatinib-rechallenge.toml"


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (RULE, 'fact = "her2_positive"', 'fact = "her2_pozitive"', "unknown fact 'her2_pozitive'"),
        (
            RULE,
            'regimens = ["tucatinib-triplet", "t-dxd"]',
            'regimens = ["tucatinib-triplet", "t-dxx"]',
            "unknown regimen 't-dxx'",
        ),
        # A citation must name a recommendation in the ASCO 2022 table.
        (
            RULE,
            "rec. 7.1 and 9.1",
            "rec. 7.1 and 9.9",
            "cites ASCO 2022 rec. 9.9, not in the table",
        ),
        (RULE, 'indicator = "critical"', 'indicator = "urgent"', "indicator"),
        (RULE, 'id = "LAPATINIB-RECHALLENGE"', 'id = "lapatinib rechallenge"', "id"),
        (
            RULE,
            "{{ facts.prior_lapatinib.regimen }}",
            "{{ facts.prior_lapatinib.regimen }",
            "template error",
        ),
        (
            RULE,
            'url = "https://www.guidelinecentral.com/guideline/7342"',
            'url = "http://insecure.example"',
            "url",
        ),
        (
            "knowledge.toml",
            'code = "2361285"',
            'code = "480167"',
            "not in the value set of agent 'tucatinib'",
        ),
        (
            "knowledge.toml",
            'orderables = ["t-dxd"]',
            'orderables = ["t-dxd-missing"]',
            "unknown orderable",
        ),
        (
            "rules/cns-active-therapy.toml",
            "large_lesion_cm = 3.0",
            "large_lesion_size = 3.0",
            "needs parameter(s) large_lesion_cm",
        ),
    ],
)
def test_broken_knowledge_is_refused_with_a_message_naming_it(
    knowledge_copy, file, old, new, message
):
    edit(knowledge_copy / file, old, new)
    with pytest.raises(ConfigError) as raised:
        load_knowledge(knowledge_copy)
    assert message in str(raised.value)


def test_validate_knowledge_command_reports_the_packaged_rules(capsys):
    assert main(["validate-knowledge"]) == 0
    out = capsys.readouterr().out
    assert "LAPATINIB-RECHALLENGE" in out and "all references resolved" in out


def test_validate_knowledge_command_fails_on_a_broken_copy(knowledge_copy, capsys):
    edit(knowledge_copy / RULE, 'fact = "her2_positive"', 'fact = "nope"')
    assert main(["validate-knowledge", str(knowledge_copy)]) == 1
    assert "unknown fact 'nope'" in capsys.readouterr().err


def test_console_script_finds_the_packaged_knowledge():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).with_name("cds-service")
    result = subprocess.run(
        [str(script), "validate-knowledge"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"orders": ["srs", "chemo"], "since": "brain-event"}, "unknown order kind(s) ['chemo']"),
        ({"orders": ["srs"], "since": "yesterday"}, "unknown event 'yesterday'"),
        ({"rule": "NO-SUCH-RULE", "orders": ["srs"], "since": "brain-event"}, "NO-SUCH-RULE"),
    ],
)
def test_a_broken_answered_by_entry_is_refused(monkeypatch, entry, message):
    from cds_service.rules import loader, wording

    raw = {**wording.policy(), "answered_by": [{"rule": "CNS-ACTIVE-THERAPY", **entry}]}
    monkeypatch.setattr(loader, "policy", lambda: raw)
    with pytest.raises(ConfigError) as raised:
        load_knowledge()
    assert message in str(raised.value)
