"""Helpers the test groups share. Test modules import from here (or get fixtures from a
conftest.py), never from another test module."""
