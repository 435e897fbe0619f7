"""Back-off after failed sign-ins, per user name and per client address.

A few mistakes cost nothing; after `free` failures in a row each further attempt is
refused outright (without checking the password, so a guesser learns nothing and costs
the server no hash) until a wait that doubles with every failure, capped at `cap_s`.
A success clears the key.  Both keys count: a guesser spreading over many user names
from one address is slowed by the address, one spreading over addresses by the name.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class Backoff:
    free: int = 5  # failures allowed before any wait
    base_s: float = 2.0  # the first wait; doubles with each failure after that
    cap_s: float = 900.0
    max_keys: int = 100_000  # forget the oldest keys beyond this (a flood of addresses cannot grow memory without bound)
    _fails: dict[str, tuple[int, float]] = field(default_factory=dict)  # key -> (failures, when the last one was)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_s(self, *keys: str, now: float | None = None) -> float:
        """Seconds until these keys may try again (0: now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            worst = 0.0
            for key in keys:
                n, last = self._fails.get(key, (0, 0.0))
                if n >= self.free:
                    worst = max(worst, last + min(self.cap_s, self.base_s * 2 ** (n - self.free)) - now)
            return max(0.0, worst)

    def failed(self, *keys: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            for key in keys:
                self._fails[key] = (self._fails.get(key, (0, 0.0))[0] + 1, now)
            while len(self._fails) > self.max_keys:
                self._fails.pop(next(iter(self._fails)))

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._fails.pop(key, None)
