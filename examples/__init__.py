"""Worked examples that the documentation shows verbatim and the tests run."""
