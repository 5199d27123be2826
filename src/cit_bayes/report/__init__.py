"""Turning results into files a person reads: figures, tables, reports.

Modules here take plain tables produced elsewhere and write files; they compute no statistics, and
no matplotlib figure leaves this package.
"""
