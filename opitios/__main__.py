"""``python -m opitios …``: the ``opitios`` command, for when the console script is not on the path."""

from opitios.cli import main

if __name__ == "__main__":
    main()
