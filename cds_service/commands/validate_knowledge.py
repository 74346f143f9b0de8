"""Check the knowledge base as the service does at start-up: every rule, reference and value set."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cds_service.errors import ConfigError
from cds_service.rules.loader import load_knowledge


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "directory", nargs="?", type=Path, help="knowledge directory (default: the packaged one)"
    )


def run(args: argparse.Namespace) -> int:
    try:
        knowledge = load_knowledge(args.directory)
    except ConfigError as exc:
        print(f"knowledge base invalid: {exc}", file=sys.stderr)
        return 1
    print(
        f"knowledge base {knowledge.version}: {len(knowledge.rules)} rules, all references resolved"
    )
    for rule in knowledge.rules:
        hooks = ", ".join(sorted(rule.hooks))
        print(f"  {rule.id} {rule.version} [{hooks}] - {rule.citation.label}")
    return 0
