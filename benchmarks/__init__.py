"""Benchmarks: scripts that time and compare, print a table and write JSON."""
