"""``python -m management_service [--workers N]``: run the management API, settings from the
environment."""

from __future__ import annotations

from collections.abc import Sequence

from common import serve
from management_service.app import create_app


def main(argv: Sequence[str] | None = None) -> None:
    serve.main("management", create_app, argv)


if __name__ == "__main__":
    main()
