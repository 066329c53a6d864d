"""Benchmarks: datasets, workloads and the BENCHMARKS.md report."""
