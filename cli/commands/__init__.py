"""One module per `qnn` subcommand (see cli.main)."""
