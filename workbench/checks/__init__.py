"""Reading and judging one output: parse specs, JSON paths, assertions, similarity.

Pure functions of an output and its case; the engine calls them for every cell, the reports
only show what they stored.
"""
