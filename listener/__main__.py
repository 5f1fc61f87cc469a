"""``python -m listener [-v] [listen flags]``: the listener as a service (same flags as ``lakehouse listen``)."""

import sys

from lakehouse.cli import main as lakehouse_main


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = [a for a in args if a in ("-v", "--verbose")]
    return lakehouse_main([*verbose, "listen", *(a for a in args if a not in verbose)])


if __name__ == "__main__":
    sys.exit(main())
