"""The served AKIG and the Chromium browser its tests share (see tests/serving.py)."""

from tests.serving import browser, served  # noqa: F401  (fixtures)
