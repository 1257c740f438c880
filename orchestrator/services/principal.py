"""Who is acting, and the one place that decides what they may see."""
from __future__ import annotations

from dataclasses import dataclass

from ..roles import ROLES
from ..store.models import Case, Task


@dataclass(frozen=True)
class Principal:
    username: str
    roles: frozenset[str]
    regions: frozenset[str]

    @classmethod
    def system(cls) -> Principal:
        return cls("system", frozenset(), frozenset())

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def client_roles(self) -> frozenset[str]:
        return frozenset(r for r in self.roles if ROLES[r].client_facing) if self.roles else frozenset()

    # -- what a principal may see: role + region, or named personally -------------------
    def may_see_task(self, task: Task) -> bool:
        return task.assignee == self.username or self.username in (task.candidate_users or []) or (
            task.region in self.regions and task.role in self.client_roles)

    def may_work_on(self, task: Task) -> bool:
        """May claim/complete: their role in their region, or named as assignee/candidate."""
        return self.may_see_task(task)

    def may_see_case(self, case: Case, case_roles: set[str]) -> bool:
        """Client data of a case: a client-facing role the pathway uses, in the case's region."""
        return case.region in self.regions and bool(self.client_roles & case_roles)
