"""How many threads the embedded model gets, and how its idle threads wait.

Why this module exists: llama.cpp gives every core a thread, and its OpenMP threads spin while
they wait for each other at the hundreds of barriers of every token. On a busy machine a
spinning thread burns a core while its partner waits for a core held by another process, and
each barrier then costs a scheduler time slice (measured on 2 cores: one competing process
made a call several times slower, two made a chain cell take 44 s). Two remedies, both
measured by ``bench/local_reruns.py``:

* idle threads spin only briefly, then sleep: libgomp's ``GOMP_SPINCOUNT`` is set to
  :data:`SPIN_COUNT` (about a tenth of a millisecond), and ``OMP_WAIT_POLICY=passive`` for other
  OpenMP runtimes, before llama.cpp is loaded, unless the user set either (the runtime reads
  them once, when it loads). A barrier inside a token then costs microseconds when the partner
  thread is running, and a thread whose partner waits for a core sleeps instead of burning
  one. (Measured on 2 idle cores: passive waits made one decoding step 3× slower than short
  spins — 30 ms against 10 — and spinning for OpenMP's default 3 ms made a busy machine's
  calls several times slower.)
* fewer threads than cores when other processes keep cores busy. ``auto`` (the default) looks,
  before each group of calls, at how much CPU *other* processes used since the last look
  (``/proc/stat`` minus this process's own CPU time) and leaves them those cores.

A fixed count comes from ``$WORKBENCH_LOCAL_THREADS`` or a model's ``threads`` parameter in the
suite. The thread count never changes an output (llama.cpp splits work by rows, each computed
whole by one thread; a test checks it), so ``auto`` may change it between calls.
"""

from __future__ import annotations

import os
import threading
import time

ENV_THREADS = "WORKBENCH_LOCAL_THREADS"
WAIT_POLICY_VAR = "OMP_WAIT_POLICY"
SPIN_COUNT_VAR = "GOMP_SPINCOUNT"
# Spins before an idle libgomp thread sleeps (libgomp counts about 100,000 per millisecond).
SPIN_COUNT = 10_000
AUTO = "auto"

# Another process counts as holding a core once it keeps half of one busy.
_CORE_SHARE = 0.5
# A look over a shorter interval than this says too little; the last decision stands.
_MIN_INTERVAL_S = 0.25


def cpu_count() -> int:
    """CPUs this process may run on (affinity-aware, unlike bare ``os.cpu_count()``)."""
    try:
        return len(os.sched_getaffinity(0)) or 2
    except (AttributeError, OSError):  # not available on macOS / Windows
        return os.cpu_count() or 2


def set_wait_policy() -> None:
    """Make OpenMP's idle threads spin briefly, then sleep, unless the user chose otherwise.

    Must run before llama.cpp's library is loaded: the OpenMP runtime reads these once, then.
    """
    if WAIT_POLICY_VAR in os.environ or SPIN_COUNT_VAR in os.environ:
        return
    os.environ[SPIN_COUNT_VAR] = str(SPIN_COUNT)  # libgomp: wins over the policy below
    os.environ[WAIT_POLICY_VAR] = "passive"  # other runtimes: sleep at once


def parse_threads(value: object, *, source: str) -> int | None:
    """A thread setting as a count, or ``None`` for ``auto``; raises ``ValueError`` naming
    ``source`` for anything else."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", AUTO)):
        return None
    if isinstance(value, bool):
        raise ValueError(f"{source}: expected 'auto' or a positive number of threads")
    try:
        count = int(value) if not isinstance(value, float) or value.is_integer() else 0
    except (TypeError, ValueError):
        count = 0
    if count < 1:
        raise ValueError(f"{source}: expected 'auto' or a positive number of threads, "
                         f"got {value!r}")
    return count


def _busy_seconds() -> float | None:
    """CPU seconds all processes have spent busy since boot (Linux), or ``None``."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu" or len(fields) < 8:
        return None
    # user nice system idle iowait irq softirq steal: everything but idle and iowait
    ticks = [int(x) for x in fields[1:9]]
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


class ThreadPolicy:
    """Chooses the thread count before each group of calls.

    ``fixed`` (a count) wins; otherwise ``$WORKBENCH_LOCAL_THREADS``; otherwise ``auto``:
    every core this process may use, minus one per core that other processes kept busy
    since the previous look.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: tuple[float, float, float] | None = None  # (wall, busy, own cpu)
        self._auto = cpu_count()

    def threads(self, fixed: int | None = None) -> int:
        if fixed is not None:
            return fixed
        configured = parse_threads(os.environ.get(ENV_THREADS), source=f"${ENV_THREADS}")
        if configured is not None:
            return configured
        return self._auto_threads()

    def others_busy(self) -> float | None:
        """Cores that other processes kept busy since the previous call (``None``: unknown,
        or too short an interval to say)."""
        busy = _busy_seconds()
        if busy is None:
            return None
        now, own = time.monotonic(), time.process_time()
        with self._lock:
            last, self._last = self._last, (now, busy, own)
            if last is None:
                # First look: nothing to compare with yet, so every core (the start of the
                # interval the next look measures). Not the load average: it counts processes
                # blocked on I/O and lags by a minute (an idle VM showed 1.0 on 2 cores).
                return None
            wall = now - last[0]
            if wall < _MIN_INTERVAL_S:
                self._last = last  # keep measuring from the older point
                return None
            return max(0.0, ((busy - last[1]) - (own - last[2])) / wall)

    def _auto_threads(self) -> int:
        cores = cpu_count()
        others = self.others_busy()
        if others is not None:
            held = int(others + 1 - _CORE_SHARE)  # cores kept at least half busy
            self._auto = max(1, cores - held)
        return self._auto
