"""The last line of defence: an unexpected error is one clear line on stderr, never a traceback."""

from __future__ import annotations

import sys
from typing import Any

import typer

from berth.cli.aws import EXIT_GENERAL

__all__ = ["SafeTyper"]


class SafeTyper(typer.Typer):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except KeyboardInterrupt:
            sys.stderr.write("\ninterrupted\n")
            sys.exit(130)
        except Exception as error:
            sys.stderr.write(f"berth: error: {type(error).__name__}: {error}\n")
            sys.exit(EXIT_GENERAL)
