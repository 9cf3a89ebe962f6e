"""``python -m celltool`` (also what ``torchrun -m celltool train ...`` runs on every process)."""

from celltool.cli import main

main()
