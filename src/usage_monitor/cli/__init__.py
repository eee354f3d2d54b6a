"""`usage-monitor`: check licenses now, chart or report stored history, mute alerts, send a test alert.

Each command family is one module of this package with a `register(commands)` function that adds its
argparse subparser(s) and sets `handler`; a handler takes the parsed arguments and returns the exit code.
To add a command, write its module (reuse `common` for AWS access, options and `CliError`) and append its
`register` to `COMMANDS`. A `CliError` (or `ConfigError`) becomes one line on stderr and exit code 2,
never a traceback. Commands print with plain `print`: `main` routes stdout and stderr through
`terminal.SafeStream`, which escapes terminal control codes and keeps output within the stream's encoding.

The local demo is not a command: it needs moto and the simulator, development code that is never
installed. Run it from the repository with `make demo` (`python -m local.run`).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any

from usage_monitor.cli import check, history, mutes, report, test_alert
from usage_monitor.cli.common import EXIT_CODES, EXIT_ERROR, EXIT_OK, PROG, CliError, Handler, print_error
from usage_monitor.cli.terminal import safe_output
from usage_monitor.core.errors import ConfigError

COMMANDS: list[Callable[[Any], None]] = [
    check.register,
    history.register,
    report.register,
    mutes.register,
    test_alert.register,
]
"""Registrars, in `--help` order."""


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, dispatch, and turn every failure into stderr lines and exit code 2 (1 means "over threshold").

    Everything printed meanwhile, by the commands, argparse or a traceback, goes through `safe_output`.
    """
    with safe_output():
        return _run(argv)


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors: argparse has printed already
        return exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None else EXIT_ERROR)
    handler: Handler = args.handler
    try:
        return handler(args)
    except (CliError, ConfigError) as exc:
        print_error(str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        print_error("interrupted")
        return 130
    except BrokenPipeError:
        # The reader went away (`... --csv | head`): stop quietly, and keep the interpreter's
        # final flush from complaining about the closed pipe.
        _silence_stdout()
        return EXIT_ERROR
    except Exception as exc:
        # A defect, not a finding: the traceback for the report, and never exit 1, which means "over threshold".
        traceback.print_exc()
        print_error(f"unexpected {type(exc).__name__}: {exc}")
        return EXIT_ERROR


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Check Leegality license usage now, or show what the deployed monitor stored.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND", required=True)
    for register in COMMANDS:
        register(commands)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("leegality-usage-monitor")
    except PackageNotFoundError:
        return "unknown"


def _silence_stdout() -> None:
    with suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
