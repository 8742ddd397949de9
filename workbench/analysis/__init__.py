"""Statistics over stored cells: per case, per variant × model, and paired comparisons.

No I/O of its own: it measures the records the store hands it.
"""
