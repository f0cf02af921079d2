"""``python -m editrl`` is the ``editrl`` command."""

from editrl.cli import main

main()
