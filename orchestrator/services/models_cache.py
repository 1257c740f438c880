"""Deployed process versions → parsed, runnable models (parsed once per process)."""
from __future__ import annotations

import threading

from sqlalchemy.orm import Session

from ..engine.deployment import ProcessModel, build_models, read_forms, stored_calls, stored_forms
from ..errors import NotFoundError
from ..store.models import ProcessVersion
from .env import Env

_lock = threading.Lock()
_by_hash: dict[tuple[str, str], ProcessModel] = {}


def model_for_version(env: Env, session: Session, version_id: int) -> ProcessModel:
    model = env.models.get(version_id)
    if model is not None:
        return model
    row = session.get(ProcessVersion, version_id)
    if row is None:
        raise NotFoundError(f"process version {version_id} does not exist")
    model = model_from_row(env, row)
    env.models[version_id] = model
    return model


def model_from_row(env: Env, row: ProcessVersion) -> ProcessModel:
    with _lock:
        cached = _by_hash.get((row.process_id, row.content_hash))
    if cached is not None:
        return cached
    forms, _ = read_forms({f"{fid}.form": text for fid, text in stored_forms(row.forms_json).items()})
    # the called processes as they were when this version was deployed
    calls = stored_calls(row.forms_json)
    # Topics and handler parameters are not re-checked on load: a stored version was valid
    # when deployed, and a handler removed or changed since then shows up as an incident on
    # the step, not as a lost case.
    models = build_models({row.filename: row.bpmn}, forms, _all_topics(row.bpmn),
                          max_bytes=max(env.settings.max_upload_bytes, len(row.bpmn.encode()) + 1,
                                        *(len(text.encode()) + 1 for _n, text in calls.values())),
                          library=calls)
    model = next(m for m in models if m.process_id == row.process_id)
    with _lock:
        _by_hash[(row.process_id, row.content_hash)] = model
    return model


def _all_topics(bpmn: str) -> list[str]:
    import re
    return sorted(set(re.findall(r'camunda:topic="([^"]+)"', bpmn)))
