"""cProfile for every thread of a process (the SDK runs workflow activations on a pool).

``cProfile`` profiles only the thread that enables it; ``threading.setprofile`` runs a hook
in every thread started afterwards, and the hook swaps itself for a profiler of its own.
"""

import cProfile
import pstats
import sys
import threading
import time
from pathlib import Path
from typing import Any


class AllThreads:
    """Profile the current thread and every thread started while running."""

    def __init__(self) -> None:
        """Nothing runs until :meth:`start`."""
        self._profiles: list[cProfile.Profile] = []
        self._lock = threading.Lock()

    def _new(self) -> cProfile.Profile:
        profile = cProfile.Profile(time.thread_time)  # CPU time: waiting is not a cost
        with self._lock:
            self._profiles.append(profile)
        return profile

    def _hook(self, *_: Any) -> None:
        # First event in a new thread: replace this Python-level hook by a C profiler.
        sys.setprofile(None)
        self._new().enable()

    def start(self) -> None:
        """Profile this thread now and every thread started from now on."""
        threading.setprofile(self._hook)
        self._new().enable()

    def dump(self, path: Path) -> None:
        """Stop, merge every thread's figures and write them to ``path`` (pstats format)."""
        threading.setprofile(None)
        with self._lock:
            profiles = list(self._profiles)
        for profile in profiles:
            profile.disable()  # stops this thread's profiler; the others just stop counting
        stats = pstats.Stats(profiles[0])
        for profile in profiles[1:]:
            try:
                stats.add(profile)
            except TypeError:  # a profile that never saw a call
                continue
        stats.dump_stats(path)
