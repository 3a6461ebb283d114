"""The error the command line shows as one clear message (exit code 1); `tanya serve` raises it too."""

from __future__ import annotations


class CliError(Exception):
    """A problem to show the user as one clear message (exit code 1)."""
