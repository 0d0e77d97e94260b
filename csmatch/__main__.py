"""``python -m csmatch`` runs the CLI (used where the console script is not on PATH)."""

from csmatch.cli import main

main()
