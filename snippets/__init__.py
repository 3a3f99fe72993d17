"""Roofline arithmetic, model and hardware data, and benchmark routines for the course
"LLM inference performance". Every number in the course pages is computed by this package."""

__version__ = "0.1.0"
