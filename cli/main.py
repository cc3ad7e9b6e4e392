"""`qnn`: the headless commands. Each subcommand is a module in `cli.commands` with
`add_parser(subparsers)`; its handler returns a JSON-able dict, printed as JSON with
`--json` or through the module's `human(result)` otherwise.

Errors the user can fix arrive as `QnnError` and are printed as one line, exit status 2;
with `--json` (also for a bad command line) as one JSON object on stdout instead,
{"error": cause, "hint": what to do, "command": ...}, with the same exit status.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import sys
from typing import NoReturn

import cli.commands
from common.errors import QnnError

ORDER = ["sim", "train", "eval", "predict", "export", "build", "verify"]


def split_hint(message: str) -> tuple[str, str]:
    """A QnnError's "cause; what to do" as (cause, hint); hint "" when there is none."""
    cause, sep, hint = message.partition("; ")
    return (cause, hint) if sep else (message, "")


def report_error(command: str | None, message: str, as_json: bool) -> None:
    if as_json:
        cause, hint = split_hint(message)
        print(json.dumps({"error": cause, "hint": hint, "command": command}))
        sys.stdout.flush()
    else:
        print(f"qnn{' ' + command if command else ''}: error: {message}", file=sys.stderr)


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors come out as JSON when the command line asks for --json."""

    json_errors = False
    argv: list[str] = []

    def error(self, message: str) -> NoReturn:
        if Parser.json_errors:
            words = [a for a in Parser.argv if not a.startswith("-")]
            command = self.prog.split(" ", 1)[1] if " " in self.prog else \
                (words[0] if words else None)
            report_error(command, f"{message}; see `{self.prog} --help`.", True)
            sys.exit(2)
        super().error(message)


def _command_modules() -> list[str]:
    found = {m.name for m in pkgutil.iter_modules(cli.commands.__path__)
             if not m.name.startswith("_")}
    return [n for n in ORDER if n in found] + sorted(found - set(ORDER))


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
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
    Parser.argv = list(sys.argv[1:] if argv is None else argv)
    Parser.json_errors = "--json" in Parser.argv
    args = parser.parse_args(argv)
    as_json = getattr(args, "json", False)
    try:
        result = args.func(args)
    except QnnError as e:
        report_error(args.command, str(e), as_json)
        return 2
    except KeyboardInterrupt:
        report_error(args.command, "interrupted; nothing was written.", as_json)
        return 130
    try:
        print(json.dumps(result, indent=1) if getattr(args, "json", False) else args.human(result))
        sys.stdout.flush()
    except BrokenPipeError:  # `qnn ... | head`: the reader left, nothing to report
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps interpreter exit quiet
    return 1 if isinstance(result, dict) and result.get("ok") is False else 0


if __name__ == "__main__":
    sys.exit(main())
