"""`qnn`: the headless commands. Each subcommand is a module in `cli.commands` with
`add_parser(subparsers)`; its handler returns a JSON-able dict, printed as JSON with
`--json` or through the module's `human(result)` otherwise.

Errors the user can fix arrive as `QnnError` and are printed as one line, exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import sys

import cli.commands
from common.errors import QnnError

ORDER = ["sim", "train", "eval", "predict", "export", "build", "verify"]


def _command_modules() -> list[str]:
    found = {m.name for m in pkgutil.iter_modules(cli.commands.__path__)
             if not m.name.startswith("_")}
    return [n for n in ORDER if n in found] + sorted(found - set(ORDER))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qnn",
        description="Forward sensor model -> quantization-aware training -> integer-only C "
        "for the Cortex-M0. Run `qnn COMMAND --help` for each command.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _command_modules():
        importlib.import_module(f"cli.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except QnnError as e:
        print(f"qnn {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"qnn {args.command}: interrupted; nothing was written.", file=sys.stderr)
        return 130
    try:
        print(json.dumps(result, indent=1) if getattr(args, "json", False) else args.human(result))
        sys.stdout.flush()
    except BrokenPipeError:  # `qnn ... | head`: the reader left, nothing to report
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps interpreter exit quiet
    return 1 if isinstance(result, dict) and result.get("ok") is False else 0


if __name__ == "__main__":
    sys.exit(main())
