"""Organisations a client's consent can cover (Kela form Y100 lists the parties by name).

Every user belongs to at most one; a consent names the organisations it covers, and client
data is shared with a user only if their organisation is covered.
"""
from __future__ import annotations

ORGANISATIONS: dict[str, str] = {
    "health_centre": "Terveyskeskus",
    "social_services": "Sosiaalipalvelut",
    "te_office": "TE-palvelut / kunnan työllisyyspalvelut",
    "kela": "Kela",
    "ips_service": "IPS-työhönvalmennus",
    "mental_health": "Mielenterveys- ja päihdepalvelut",
    "education": "Oppilaitos",
    "ngo": "Järjestö",
    "rehabilitation_provider": "Kuntoutuspalvelun tuottaja",
}
