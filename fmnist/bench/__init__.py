"""Benchmarks: latency, throughput, cold start, memory and accuracy of exported artifacts."""
