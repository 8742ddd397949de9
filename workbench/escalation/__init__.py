"""Escalation: does a suite's history of prompt versions warrant fine-tuning?

``history`` reads the store, ``rule`` decides, ``report`` holds the outcome as data; the
prose and the formats live in :mod:`workbench.reports.escalation`.
"""
