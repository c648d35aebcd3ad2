"""One module per CLI command: NAME, HELP, register(parser) and run(args) -> exit code."""
