"""``python -m management_service``: run the management API with settings from the environment."""

from __future__ import annotations

from aiohttp import web

from common.logs import setup_logging
from common.settings import Settings
from management_service.app import create_app


def main() -> None:
    settings = Settings.from_env("management")
    setup_logging(settings.log_level)
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        shutdown_timeout=settings.shutdown_timeout,
        access_log=None,
        print=None,
    )


if __name__ == "__main__":
    main()
