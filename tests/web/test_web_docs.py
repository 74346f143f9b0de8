"""The README documents every CDS_* setting the service reads, and the commands it names exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_configuration_table_names_every_setting():
    read = set(re.findall(r'"(CDS_[A-Z_]+)"', (ROOT / "cds_service" / "config.py").read_text()))
    documented = set(re.findall(r"^\| `(CDS_[A-Z_]+)` \|", (ROOT / "README.md").read_text(), re.M))

    assert read and documented == read


def test_readme_commands_are_make_targets():
    makefile = (ROOT / "Makefile").read_text()

    assert re.search(r"^serve:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()
