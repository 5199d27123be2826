"""Shared test configuration.

Warnings are errors (see ``pyproject.toml``) unless a test expects one. Figures render off-screen.
Tests never depend on a warm PyTensor cache: they compile what they need and assert nothing about
time.
"""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")
