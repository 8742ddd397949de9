"""The playground: run a draft of a prompt on a few cases, N times each, before it is saved.

A draft is a prompt text with no version number yet (:mod:`.draft`); what to run it on is
the user's picks (:mod:`.picks`); running it records a real run in the store, next to the
same cases on the version it came from, reusing every cell an earlier run already finished
(:mod:`.session`); :mod:`.board` turns the cells, as they arrive, into what the playground
shows: each case's outputs, answers, modal share, parse and pass rates, and the paired
comparison with the parent. Saving the draft as the next version attaches its runs to that
version, so they count in its history. The TUI's Playground screen is a shell over these.
"""
