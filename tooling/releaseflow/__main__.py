"""Lets `python -m releaseflow` run the CLI."""

from releaseflow.cli import main

raise SystemExit(main())
