"""Browser tests: the embed in Debian's chromium, driven by Playwright."""
