"""The `qnn` command line: one module per subcommand in cli/commands/."""
