"""`python -m campaigner` runs the command line."""

from campaigner.cli.main import main

main()
