"""Reading the user's files: YAML that remembers line numbers, located problems, the project.

Everything the workbench reads from disk (suites, prompt versions, case files) comes in
through here, so every problem can name its file and line.
"""

from workbench.config.params import Params
from workbench.config.paths import find_project_root
from workbench.config.yaml import Loc, Located, dump_yaml, load_yaml

__all__ = ["Loc", "Located", "Params", "dump_yaml", "find_project_root", "load_yaml"]
