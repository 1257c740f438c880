"""Demo regions and users for a new database: one user per role, printed on start."""
from __future__ import annotations

import sqlalchemy as sa

from .roles import ROLES
from .services import users
from .services.env import Env
from .store.models import User

DEMO_PASSWORD = "polku-demo"
REGIONS = {
    "keski": "Keskinen tiimi", "pohjoinen": "Pohjoinen tiimi", "etela": "Eteläinen tiimi",
    "ita": "Itäinen tiimi", "lansi": "Läntinen tiimi", "rannikko": "Rannikon tiimi",
}


def is_empty(env: Env) -> bool:
    with env.uow() as uow:
        return uow.session.scalar(sa.select(sa.func.count(User.id))) == 0


def seed(env: Env) -> list[tuple[str, str, str]]:
    """Create the demo regions and users; returns (username, roles, regions) rows."""
    for key, name in REGIONS.items():
        users.add_region(env, key, name)
    rows = []
    for role in ROLES:
        regions = list(REGIONS) if role in ("manager", "admin", "designer") else ["keski"]
        users.add_user(env, role.replace("_", "-"), DEMO_PASSWORD, [role], regions, ROLES[role].fi)
        rows.append((role.replace("_", "-"), role, ",".join(regions)))
    # A nurse of another region shows how region scoping works.
    users.add_user(env, "nurse-north", DEMO_PASSWORD, ["nurse"], ["pohjoinen"], "Terveydenhoitaja (pohjoinen)")
    rows.append(("nurse-north", "nurse", "pohjoinen"))
    return rows
