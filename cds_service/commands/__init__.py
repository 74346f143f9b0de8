"""Subcommands of `cds-service`; each module has register(parser) and run(args)."""
