"""``python -m waypost`` is the ``waypost`` command."""

from waypost.cli import main

main()
