"""The SQLite store: runs, their cells and the prompt texts they used, crash-safe."""

from workbench.store.database import Store, default_db_path
from workbench.store.records import CellRecord, RunInfo

__all__ = ["CellRecord", "RunInfo", "Store", "default_db_path"]
