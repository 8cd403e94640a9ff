"""The public, browser-facing runtime API under /core/public/web-widgets, run on many pods."""
