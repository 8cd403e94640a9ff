"""``python -m runtime_service [--workers N]``: run the public runtime API, settings from the
environment."""

from __future__ import annotations

from collections.abc import Sequence

from common import serve
from runtime_service.app import create_app


def main(argv: Sequence[str] | None = None) -> None:
    serve.main("runtime", create_app, argv)


if __name__ == "__main__":
    main()
