"""``python -m sim`` runs the ``continuum`` command."""

from .entry import main

main()
