"""Pulumi entry point: load the typed platform config, build the stack. Nothing else lives here."""

import program

program.main()
