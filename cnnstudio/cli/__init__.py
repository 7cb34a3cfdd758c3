"""The ``cnnstudio`` command: no arguments opens the studio; subcommands run headless.

Each subcommand lives in its own module with ``register(subparsers)`` and ``run(args) -> int``.
A :class:`CLIError` (or any expected bad-input error) becomes one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

#: Subcommand modules, in help order.
SUBCOMMANDS = ["summary", "export", "train", "probe", "maximize", "doctor"]


class CLIError(Exception):
    """Bad input: printed as one line, exit code 2."""


def add_trust_code(parser: argparse.ArgumentParser) -> None:
    """Add ``--trust-code`` to a subcommand that loads model files."""
    parser.add_argument("--trust-code", action="store_true",
                        help="let Python code in the model file (a Lambda layer) run: only for files you trust")


def untrusted(exc: Exception) -> CLIError:
    """The one line for a model file refused because it holds code (an ``UntrustedCodeError``)."""
    return CLIError(f"{exc} (add --trust-code if you trust the file)")


def _parser() -> argparse.ArgumentParser:
    # ``cnnstudio [PROJECT]`` (the studio) is routed in main() before parsing: a positional
    # here would swallow the subcommand name.
    parser = argparse.ArgumentParser(prog="cnnstudio", usage="cnnstudio [PROJECT] | cnnstudio COMMAND ...",
                                     description="Build, train and look inside CNNs. With no COMMAND, "
                                                 "opens the studio on PROJECT (a project or Keras model file).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"cnnstudio.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cnnstudio`` console script."""
    t0 = time.perf_counter()
    argv = sys.argv[1:] if argv is None else argv
    if not argv or (len(argv) == 1 and not argv[0].startswith("-") and argv[0] not in SUBCOMMANDS):
        from cnnstudio.ui.platform_check import platform_problem

        problem = platform_problem()  # before Qt loads the plugin: Qt's own abort names the wrong package
        if problem:
            print(f"cnnstudio: {problem}", file=sys.stderr)
            return 2
        from cnnstudio.ui.app import run
        return run(argv[0] if argv else None, t0=t0)
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except CLIError as exc:
        print(f"cnnstudio {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cnnstudio {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
