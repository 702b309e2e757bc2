"""The ``vasscm`` command line (contract section 6)."""

from vasscm.cli.main import main

__all__ = ["main"]
