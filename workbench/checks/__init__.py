"""Reading and judging one output: parse specs, JSON paths, assertions, similarity.

``parsing`` finds the answer in an output; ``jsonpath`` and ``jsontext`` are the one JSON
path grammar and the one JSON finder that parsing and the assertions share; ``values`` says
when two values are the same and how a value reads in a reason; ``assertions`` holds one
class per assertion type. Pure functions of an output and its case; the engine calls them
for every cell, the reports only show what they stored.
"""
