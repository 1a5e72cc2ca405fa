"""`python -m campaigner` runs the command line."""

from campaigner.cli import main

main()
