"""The roles of PATHWAYS.md: the fixed vocabulary lanes and candidate groups map to.

Regions and users are data; roles are part of the domain model (they decide what a
person may see), so they are code, with their titles in the three UI languages.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Role:
    key: str
    fi: str
    sv: str
    en: str
    client_facing: bool = True

    @property
    def titles(self) -> tuple[str, ...]:
        return (self.fi, self.sv, self.en)


ROLES: dict[str, Role] = {r.key: r for r in (
    Role("referrer", "Lähettävä ammattilainen", "Remitterande yrkesperson", "Referrer"),
    Role("coordinator", "Työkykykoordinaattori", "Arbetsförmågekoordinator", "Coordinator"),
    Role("client_lead", "Asiakasvastaava", "Klientansvarig", "Client lead"),
    Role("network_member", "Verkoston jäsen", "Nätverksmedlem", "Network member"),
    Role("social_worker", "Sosiaalityöntekijä", "Socialarbetare", "Social worker"),
    Role("nurse", "Terveydenhoitaja", "Hälsovårdare", "Nurse"),
    Role("doctor", "Lääkäri", "Läkare", "Doctor"),
    Role("job_coach", "Työhönvalmentaja", "Jobbcoach", "Job coach"),
    Role("manager", "Johtotiimi", "Ledningsgrupp", "Manager", client_facing=False),
    Role("designer", "Prosessisuunnittelija", "Processdesigner", "Process designer", client_facing=False),
    Role("admin", "Pääkäyttäjä", "Huvudanvändare", "Administrator", client_facing=False),
)}


def normalize(name: str) -> str:
    """Lower-case, accents kept (ä ≠ a), runs of spaces/hyphens/underscores → one underscore."""
    text = unicodedata.normalize("NFC", name).strip().lower()
    return re.sub(r"[\s_\-]+", "_", text)


_LOOKUP: dict[str, str] = {}
for _role in ROLES.values():
    _LOOKUP[normalize(_role.key)] = _role.key
    for _title in _role.titles:
        _LOOKUP[normalize(_title)] = _role.key
# The lane rule also accepts "Title (role_key)", the way designers often label lanes.
_PAREN = re.compile(r"\(([^()]+)\)\s*$")


def role_for_name(name: str | None) -> str | None:
    """Map a lane name or candidate group to a role key, or None when it names no role.

    The rule a designer follows: name the lane with the role key (``nurse``), or its
    Finnish, Swedish or English title (``Terveydenhoitaja``), or any label followed by the
    key in brackets (``Terveyskeskuksen hoitaja (nurse)``). Case and spacing do not matter.
    """
    if not name:
        return None
    hit = _LOOKUP.get(normalize(name))
    if hit:
        return hit
    m = _PAREN.search(name)
    if m:
        return _LOOKUP.get(normalize(m.group(1)))
    return None
