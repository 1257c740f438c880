"""Demo data: six regional teams, staff in every role, and cases driven through the real
services (start, complete with generated form data) so every list, count and history is real."""
from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta

import sqlalchemy as sa

from .engine.forms import FormField, FormSchema
from .errors import PolkuError
from .organisations import ORGANISATIONS
from .roles import ROLES
from .services import cases, tasks, users
from .services.env import Env
from .services.principal import Principal
from .store.models import User

DEMO_PASSWORD = "polku-demo"
REGIONS = {
    "keski": "Keskinen tiimi", "pohjoinen": "Pohjoinen tiimi", "etela": "Eteläinen tiimi",
    "ita": "Itäinen tiimi", "lansi": "Läntinen tiimi", "rannikko": "Rannikon tiimi",
}
PATHWAYS = ("unemployed_health_check", "work_ability_network", "social_rehabilitation", "ips_job_coaching")
STAFF_ORGANISATION = {
    "referrer": "te_office", "coordinator": "social_services", "client_lead": "social_services",
    "network_member": "kela", "social_worker": "social_services", "nurse": "health_centre",
    "doctor": "health_centre", "job_coach": "ips_service",
}
PHRASES = ["Tilanne etenee suunnitellusti.", "Asiakas kokee jaksamisensa parantuneen.",
           "Sovittu uusi tapaaminen kahden viikon päähän.", "Selkäkipu rajoittaa pitkiä työpäiviä.",
           "Asiakas toivoo osa-aikatyötä lähialueelta.", "Päivärytmi on vakiintunut.",
           "Keskusteltu etuuksien yhteensovittamisesta.", "Työkokeilupaikka löytyi kierrätyskeskuksesta."]
# Realistic proportions for the fields that steer the pathways.
WEIGHTS = {
    "consent_given": {"yes": 9, "no": 1}, "attendance": {"attended": 8, "no_show": 2},
    "consultation_outcome": {"network_needed": 6, "consultation_enough": 4},
    "need_continues": {"yes": 7, "no": 3}, "job_found": {"yes": 6, "no": 4},
    "situation": {"continues": 6, "job_lost": 1, "support_ends": 2, "withdrew": 1},
    "next_step": {"continue": 5, "new_plan": 2, "conclude": 3}, "pakaste_needed": {"yes": 4, "no": 6},
}


def username(role: str, region: str) -> str:
    """``nurse`` in the central team, ``nurse-pohjoinen`` elsewhere."""
    base = role.replace("_", "-")
    return base if region == "keski" else f"{base}-{region}"


def is_empty(env: Env) -> bool:
    with env.uow() as uow:
        return uow.session.scalar(sa.select(sa.func.count(User.id))) == 0


def seed(env: Env) -> list[tuple[str, str, str]]:
    """Regions and users; returns the central team's (username, role, regions) to print."""
    for key, name in REGIONS.items():
        users.add_region(env, key, name)
    printed = []
    for role in ROLES:
        if ROLES[role].client_facing:
            for region in REGIONS:
                users.add_user(env, username(role, region), DEMO_PASSWORD, [role], [region],
                               f"{ROLES[role].fi} ({REGIONS[region]})", organisation=STAFF_ORGANISATION[role])
            printed.append((username(role, "keski"), role, "keski (and <user>-<region> in each region)"))
        else:
            users.add_user(env, role, DEMO_PASSWORD, [role], list(REGIONS), ROLES[role].fi)
            printed.append((role, role, "all regions"))
    return printed


def _choice(rng: random.Random, key: str, options: tuple[str, ...]) -> str:
    weights = WEIGHTS.get(key)
    if weights and set(weights) <= set(options):
        return rng.choices(list(weights), weights=list(weights.values()))[0]
    return rng.choice(options)


def _value(f: FormField, rng: random.Random, region: str, today: date) -> object:
    if f.key == "consent_organisations":
        return list(ORGANISATIONS)
    if f.key == "client_lead":
        return username("client_lead", region)
    if f.key == "network_members":
        return username("network_member", region)
    if f.key == "followup_interval":
        return "P6W"
    if f.type in ("textfield", "textarea"):
        return rng.choice(PHRASES)[: f.max_length or None]
    if f.type == "number":
        lo, hi = int(f.min if f.min is not None else 0), int(f.max if f.max is not None else 10)
        return rng.randint(lo, hi)
    if f.type == "checkbox":
        return True if f.required else rng.random() < 0.6
    if f.type in ("radio", "select"):
        return _choice(rng, f.key, f.options)
    if f.type in ("checklist", "taglist"):
        return rng.sample(list(f.options), k=rng.randint(1, len(f.options)))
    if f.type == "datetime":
        day = today + timedelta(days=rng.randint(3, 20))
        return day.isoformat() if f.subtype == "date" else f"{day.isoformat()}T{rng.choice(['09:00', '10:30', '13:00'])}"
    return None


STEERING = {"consent_organisations", "decision", "client_lead", "network_members", "followup_interval",
            "need_continues", "work_trial_needed", "closure_reason"}


def form_data(form: FormSchema | None, rng: random.Random, region: str, today: date) -> dict:
    if form is None:
        return {}
    data = {}
    for f in form.fields:
        if f.required or f.key in STEERING or rng.random() < 0.8:
            value = _value(f, rng, region, today)
            if value is not None:
                data[f.key] = value
    return data


def _principal(env: Env, name: str, cache: dict[str, Principal]) -> Principal | None:
    if name not in cache:
        p = users.principal_for(env, name)
        if p is None:
            return None
        cache[name] = p
    return cache[name]


def create_cases(env: Env, count: int, seed_value: int = 2026, progress=None) -> Counter:
    """Start ``count`` cases round-robin over pathways and regions and move each a random number
    of steps, as the staff of its region would. Returns cases per pathway and status."""
    rng = random.Random(seed_value)
    today = env.now().date()
    from .services.deploy import list_processes
    deployed = {p["process_id"] for p in list_processes(env)}
    pathways = [p for p in PATHWAYS if p in deployed]
    who: dict[str, Principal] = {}
    made: Counter = Counter()
    # every other case in the central team, so the printed demo users have work waiting
    regions = [r for other in list(REGIONS)[1:] for r in ("keski", other)]
    for i in range(count):
        pathway, region = pathways[i % len(pathways)], regions[(i // len(pathways)) % len(regions)]
        referrer = _principal(env, username("referrer", region), who)
        start_form = cases.start_form_of(env, pathway)
        data = form_data(start_form, rng, region, today)
        data["client_ref"] = f"AS-{1000 + i}"
        try:
            case = cases.start_case(env, referrer, pathway, region, data)
            # most cases are somewhere along the way, some just started, a few finished
            for _ in range(rng.choice((0, 1, 1, 2, 2, 3, 3, 4, 5, 6, 8, 10))):
                open_tasks = tasks.open_for_case(env, case["id"])
                if not open_tasks:
                    break
                task = open_tasks[0]
                actor = _principal(env, task["assignee"] or username(task["role"], region), who)
                if actor is None:
                    break
                case = tasks.complete(env, actor, task["id"],
                                      form_data(tasks.form_of(env, task["id"]), rng, region, today))
            made[(pathway, case["status"])] += 1
        except PolkuError as exc:
            made[(pathway, f"stopped: {exc.message[:60]}")] += 1
        if progress is not None:
            progress()
    return made
