"""Topic ``record``: store a versioned JSON document on the case.

A field the case has no value for is recorded as missing, not invented: a summary without a
doctor's assessment simply has none.
"""
from __future__ import annotations

from orchestrator.services.handler_api import HandlerContext, HandlerError, Param, handler


@handler(
    "record",
    doc="Store a versioned document on the case with the current values of the named fields. "
        "A field without a value is listed as missing in the document, not invented.",
    params=[
        Param("document", "name", required=True,
              doc="the kind of document, e.g. health_check_summary (a new version each time)"),
        Param("fields", "fields", doc="the case-data fields to copy into it"),
    ],
    example={"document": "health_check_summary", "fields": "workability_score,findings,decision"},
)
def record(ctx: HandlerContext) -> dict:
    kind = (ctx.params.get("document") or "").strip()
    if not kind:
        raise HandlerError("record needs the parameter 'document'")
    keys = [k.strip() for k in (ctx.params.get("fields") or "").split(",") if k.strip()]
    content = {k: ctx.data[k] for k in keys if ctx.data.get(k) not in (None, "")}
    content["_recorded_at"] = ctx.now.isoformat()
    content["_missing"] = [k for k in keys if k not in content]
    ctx.save_document(kind, content)
    return {}
