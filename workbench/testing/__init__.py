"""Test support shipped with the package: a scriptable fake OpenAI-compatible server.

The tests and the benchmarks both use it, so it lives here rather than under ``tests/``.
"""
