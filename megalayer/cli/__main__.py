"""``python -m megalayer.cli …``: the ``megalayer`` command without its installed script."""

from megalayer.cli import main

main()
