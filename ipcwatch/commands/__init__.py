"""One module per CLI subcommand, each with `register(subparsers)` and a `run(args) -> exit code`."""
