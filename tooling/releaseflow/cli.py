"""The `releaseflow` command line: the only place that reads argv and the environment and prints."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import textwrap

from releaseflow import __version__, commands
from releaseflow.errors import ReleaseflowError
from releaseflow.result import summary

EPILOG = (
    textwrap.fill(f"exit codes: {summary()}.", 100)
    + """
Commands that act on AWS find it through the standard chain: credentials, AWS_REGION and
AWS_ENDPOINT_URL (point it at `releaseflow local` to use the local rehearsal)."""
)


class _Parser(argparse.ArgumentParser):
    """Usage errors as one `Error:` line (argparse's own is the whole usage text, then the error)."""

    def error(self, message: str):
        self.exit(2, f"Error: {self.prog}: {message}; see `{self.prog} --help`\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="releaseflow",
        description="Validate, publish and run rolling deploys of SSM documents and runbooks.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"releaseflow {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _command_modules():
        sub = subparsers.add_parser(
            module.NAME,
            help=module.HELP,
            description=getattr(module, "DESCRIPTION", module.HELP),
            epilog=getattr(module, "EPILOG", None),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.register(sub)
        sub.set_defaults(run=module.run)
    return parser


def _command_modules():
    modules = [
        importlib.import_module(f"{commands.__name__}.{info.name}")
        for info in pkgutil.iter_modules(commands.__path__)
        if not info.name.startswith("_")
    ]
    return sorted(modules, key=lambda module: getattr(module, "ORDER", 50))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ReleaseflowError as error:
        print(f"Error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
