"""Topic ``record``: store a versioned JSON document on the case.

Parameters: ``document`` (the kind, e.g. ``health_check_summary``) and ``fields`` (comma-
separated case-data keys to copy). A field the case has no value for is recorded as
missing, not invented: a summary without a doctor's assessment simply has none.
"""
from __future__ import annotations

from orchestrator.services.handler_api import HandlerContext, HandlerError, handler


@handler("record")
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
