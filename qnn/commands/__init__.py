"""One module per `qnn` subcommand (see qnn.cli)."""
