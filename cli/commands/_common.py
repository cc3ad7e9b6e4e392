"""Helpers shared by the subcommand modules."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any


def default_human(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=1)


def add_command(
    sub: Any,
    name: str,
    help: str,
    func: Callable[[argparse.Namespace], dict[str, Any]],
    human: Callable[[dict[str, Any]], str] = default_human,
    description: str | None = None,
) -> argparse.ArgumentParser:
    """Register a subcommand with the common `--json` flag."""
    p = sub.add_parser(name, help=help, description=description or help)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=func, human=human)
    return p
