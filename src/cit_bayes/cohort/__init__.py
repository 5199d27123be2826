"""Patient-level cohort data: schema, readers, validation and derived outcomes."""

from __future__ import annotations

from cit_bayes.cohort.schema import ARMS

__all__ = ["ARMS"]
