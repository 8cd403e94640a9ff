"""PLACEHOLDER (being written): health handlers."""
from common.http import healthz

readyz = healthz
__all__ = ["healthz", "readyz"]
