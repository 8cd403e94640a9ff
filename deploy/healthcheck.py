#!/usr/bin/env python3
"""The image's HEALTHCHECK: GET /healthz on this container's service port (stdlib only).

Uses $PORT when set, else either service's default port (8080 management, 8081 runtime), so the
same check works whichever service the container runs.
"""

import os
import sys
import urllib.request


def healthy(port: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


if __name__ == "__main__":
    ports = [os.environ["PORT"]] if os.environ.get("PORT") else ["8080", "8081"]
    sys.exit(0 if any(healthy(port) for port in ports) else 1)
