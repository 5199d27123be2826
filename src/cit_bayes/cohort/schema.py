"""The CIT cohort's vocabulary: arm labels and their canonical order.

This module holds the CIT specifics that the rest of the package refers to by name. The
patient-level column schema is added here by the cohort layer.
"""

from __future__ import annotations

#: Canonical arm labels, in the order the paper prints them.
ARMS: tuple[str, ...] = ("rhTPO", "hetrombopag", "combination", "rhIL-11")

__all__ = ["ARMS"]
