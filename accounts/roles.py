"""Who may do what: the roles, and the region an account is limited to."""
from __future__ import annotations

import enum
from dataclasses import dataclass

from ground.regions import region_covers


class Role(str, enum.Enum):
    EDITOR = "editor"      # drafts changes to entries, works the unanswered-question queue
    REVIEWER = "reviewer"  # approves and publishes (or returns) changes, rolls entries back
    SEAT = "seat"          # takes handed-off tickets (a local or a remote 多援一 seat)
    ADMIN = "admin"        # accounts and code tables
    TEAM_LEAD = "team_lead"      # leads a seat team (a city's own, or a 多援一 support team)
    SUPERVISOR = "supervisor"    # 督办: escalations, urging departments, opening and closing support activations
    DEPARTMENT = "department"    # a department or street office that tickets are dispatched to (转办)
    MANAGER = "manager"          # sees the figures (reports, the wall), not citizens' words


STAFF = tuple(Role)
KNOWLEDGE_WORKERS = (Role.EDITOR, Role.REVIEWER)


@dataclass(frozen=True)
class Account:
    username: str
    display_name: str
    role: Role
    region: str = ""              # "" = every region
    may_edit_wider: bool = False  # may also change entries scoped wider than `region` (province-wide ones)
    active: bool = True

    def may_change(self, entry_region: str) -> bool:
        """Whether this account may draft, publish or roll back an entry scoped to `entry_region`.

        An account limited to 江苏省/扬州市 changes entries for 扬州 and its districts; entries scoped
        wider (江苏省, or everywhere) only when it `may_edit_wider`; other cities' entries never."""
        if not self.region:
            return True
        if entry_region and region_covers(self.region, entry_region):
            return True
        if region_covers(entry_region, self.region):  # wider than the account's region ("" is everywhere)
            return self.may_edit_wider
        return False
