"""``python -m management_service.webhooks`` (console script ``webhooks-worker``): the webhook
delivery worker, settings from the environment; probes and metrics on PORT (default 8083)."""

from __future__ import annotations

from collections.abc import Sequence

from common import serve
from management_service.webhooks.app import create_app


def main(argv: Sequence[str] | None = None) -> None:
    serve.main("webhooks", create_app, argv)


if __name__ == "__main__":
    main()
