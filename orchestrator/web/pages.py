"""The landing page: what is running and how to reach it (no client data)."""
from __future__ import annotations

from flask import Blueprint, render_template_string

bp = Blueprint("pages", __name__)

_INDEX = """<!doctype html>
<html lang="fi"><head><meta charset="utf-8"><title>Polku</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1d2733}
code{background:#eef2f6;padding:.1rem .3rem;border-radius:3px}</style></head>
<body><h1>Polku</h1>
<p>Palvelupolkujen ohjausjärjestelmä on käynnissä. / The service-pathway orchestrator is running.</p>
<p>JSON API: <code>POST /api/login</code>, <code>GET /api/tasks</code>, <code>POST /api/cases</code>,
<code>GET /api/stats/&lt;pathway&gt;</code> — see README.md.</p></body></html>"""


@bp.get("/")
def index():
    return render_template_string(_INDEX)
