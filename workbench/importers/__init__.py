"""Importers: other tools' test configs turned into versioned prompts and a suite.

Each importer reads a foreign config as untrusted input, writes through the prompt library
and the suite loader's rules, and reports what it imported, converted and could not.
"""
