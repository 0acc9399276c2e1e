"""``python -m sim`` runs the ``continuum`` command."""

from .cli import main

main()
