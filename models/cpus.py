"""How many CPUs this process may use: its affinity, capped by a cgroup v2 CPU quota (containers)."""
from __future__ import annotations

import os
from pathlib import Path


def available_cores() -> int:
    """CPUs this process may run on, capped by a cgroup v2 CPU quota (containers) when there is one."""
    cores = len(os.sched_getaffinity(0))
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cores = min(cores, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cores
