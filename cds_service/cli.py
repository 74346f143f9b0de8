"""Command-line interface: serve | evaluate | explain | validate-knowledge | report | replay | db."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from cds_service import __version__
from cds_service.errors import ConfigError

# Each command lives in its own module with `register(parser)` and `run(args) -> int`.
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("cds_service.commands.serve", "run the service"),
    "evaluate": ("cds_service.commands.evaluate", "answer one hook request from a file"),
    "explain": ("cds_service.commands.explain", "show the derived patient state and its evidence"),
    "validate-knowledge": ("cds_service.commands.validate_knowledge", "check rules and value sets"),
    "report": ("cds_service.commands.report", "card acceptance and override rates"),
    "replay": ("cds_service.commands.replay", "replay hook requests against a running service"),
    "db": ("cds_service.commands.db", "the store's schema: `db upgrade` creates or upgrades it"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cds-service", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue  # command not built yet
        sub = subparsers.add_parser(name, help=help_text, description=module.__doc__)
        module.register(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except ConfigError as exc:
        # One line naming the setting (the message does), no traceback: exit status 2.
        print(f"cds-service: configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
