"""JSON-ready data: the one conversion behind every ``to_dict`` and every JSON report.

Strict JSON has no ``NaN`` or ``Infinity`` (``json.dumps`` would write them, and most parsers
— JavaScript, jq, Go — reject them), no tuples and only string keys. Statistics, the
escalation report and the run report all go through :func:`jsonable`, so they agree on how a
value is written.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import fields, is_dataclass
from typing import Any


def jsonable(obj: Any) -> Any:
    """``obj`` as JSON-ready builtins: dataclasses become objects (field by field, in field
    order), mappings get string keys, tuples become lists, non-finite floats become None.

    Raises ``TypeError`` for anything else, as ``json.dumps`` would, but before any output."""
    if isinstance(obj, LazyList):
        return obj  # its items are converted as the encoder reaches them
    if isinstance(obj, bool) or obj is None or isinstance(obj, (str, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    raise TypeError(f"cannot serialise {type(obj).__name__}")


class LazyList(list):
    """A list the JSON encoder writes item by item, each built (and made JSON-ready) only when
    the encoder reaches it — so writing a large run's reruns never holds them all at once.

    ``json``'s pure-Python encoder (used whenever ``indent`` is set) reads a list through
    ``len``/truthiness and iteration only, which is all this provides.
    """

    def __init__(self, items: Sequence[Any], build: Callable[[Any], Any]):
        super().__init__()
        self._items = items
        self._build = build

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __iter__(self) -> Iterator[Any]:
        return (jsonable(self._build(item)) for item in self._items)
