"""`python -m nl2sql_shell` is the `nl2sql-shell` command."""

from nl2sql_shell.cli import main

main()
