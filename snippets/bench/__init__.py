"""Benchmark routines that measure the reader's own device: memory bandwidth, matmul
throughput and a decode step, with honest byte and FLOP counting. `python -m snippets bench`."""
