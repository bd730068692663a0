"""The bot's fair queue of jobs waiting for the generation service: round robin across users,
first in first out within a user, so one user's burst never starves everyone else.

Pure and synchronous; the ledger wraps it with an asyncio.Condition."""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass


@dataclass
class FairQueue:
    """Jobs by user; `pop` serves users in turn."""

    def __post_init__(self) -> None:
        # user -> their waiting job ids; the order of keys is the order of turns.
        self._users: OrderedDict[int, deque[int]] = OrderedDict()
        self._owner: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._owner)

    def __contains__(self, job_id: int) -> bool:
        return job_id in self._owner

    def push(self, job_id: int, user: int) -> None:
        """Queue a job at the back of its user's line (a job already queued stays put)."""
        if job_id in self._owner:
            return
        self._owner[job_id] = user
        self._users.setdefault(user, deque()).append(job_id)

    def pop(self) -> int | None:
        """Return the next job (the front user's oldest), moving that user to the back."""
        if not self._users:
            return None
        user, line = next(iter(self._users.items()))
        job_id = line.popleft()
        del self._owner[job_id]
        del self._users[user]
        if line:
            self._users[user] = line
        return job_id

    def remove(self, job_id: int) -> bool:
        """Drop a queued job; return whether it was queued."""
        user = self._owner.pop(job_id, None)
        if user is None:
            return False
        line = self._users[user]
        line.remove(job_id)
        if not line:
            del self._users[user]
        return True

    def order(self) -> list[int]:
        """Return every queued job in the order `pop` would serve them."""
        lines = [list(line) for line in self._users.values()]
        out: list[int] = []
        depth = 0
        while any(depth < len(line) for line in lines):
            out += [line[depth] for line in lines if depth < len(line)]
            depth += 1
        return out

    def position(self, job_id: int) -> int | None:
        """Return the job's 1-based place in the serving order, or None when not queued."""
        if job_id not in self._owner:
            return None
        return self.order().index(job_id) + 1


def eta_seconds(position: int, per_job_s: float, workers: int) -> float:
    """Return the expected wait before a job at `position` finishes."""
    rounds = (position + workers - 1) // max(1, workers)
    return rounds * per_job_s
