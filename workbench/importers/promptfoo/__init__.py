"""promptfoo configs → versioned prompts and a suite (``workbench import promptfoo``).

Modules, in the order an import reads a config: :mod:`.files` (references kept inside the
config's folder), :mod:`.prompts` with :mod:`.nunjucks` (templates to Jinja2),
:mod:`.providers` with :mod:`.params`, :mod:`.cases` (tests, vars, defaultTest),
:mod:`.assertions` with :mod:`.checks` (python checks), :mod:`.outcome` (the table), and
:mod:`.importer`, which plans, validates and writes.
"""

from workbench.importers.promptfoo.importer import (
    ImportPlan,
    PlannedFile,
    default_name,
    load_imported,
    plan_import,
    validate_plan,
    write_plan,
)
from workbench.importers.promptfoo.outcome import Outcome, Row, render_table

__all__ = [
    "ImportPlan",
    "Outcome",
    "PlannedFile",
    "Row",
    "default_name",
    "load_imported",
    "plan_import",
    "render_table",
    "validate_plan",
    "write_plan",
]
