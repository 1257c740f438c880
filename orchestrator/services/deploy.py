"""Deploy BPMN + forms: all-or-nothing, a new version only when the content changed."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from ..engine.deployment import build_models, read_forms, stored_calls, stored_forms
from ..errors import DeploymentError, PermissionDeniedError, Problem
from ..store.models import Event, ProcessVersion
from .env import Env
from .principal import Principal


@dataclass(frozen=True)
class Deployed:
    process_id: str
    name: str
    version: int
    changed: bool

    def as_dict(self) -> dict:
        return {"process_id": self.process_id, "name": self.name, "version": self.version,
                "changed": self.changed}


def collect_files(paths: list[str]) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """Files and folders (searched recursively) → ({bpmn name: bytes}, {form name: bytes})."""
    bpmn: dict[str, bytes] = {}
    forms: dict[str, bytes] = {}
    problems: list[Problem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix in (".bpmn", ".form"))
        elif path.is_file():
            files = [path]
        else:
            problems.append(Problem("no such file or folder", file=raw))
            continue
        for f in files:
            if f.suffix == ".bpmn":
                bpmn[str(f)] = f.read_bytes()
            elif f.suffix == ".form":
                forms[str(f)] = f.read_bytes()
            else:
                problems.append(Problem("not a .bpmn or .form file", file=str(f)))
    if problems:
        raise DeploymentError("nothing deployed", problems)
    return bpmn, forms


def deploy(env: Env, actor: Principal | None, bpmn_files: Mapping[str, bytes],
           form_files: Mapping[str, bytes]) -> list[Deployed]:
    """Validate everything, then store a version per changed process. ``actor=None`` is the CLI."""
    if actor is not None and not actor.has("designer", "admin"):
        raise PermissionDeniedError("deploying needs the designer role")
    if not bpmn_files:
        raise DeploymentError("nothing to deploy", [Problem("no .bpmn file was given")])
    now = env.now()
    with env.uow() as uow:
        s = uow.session
        forms, form_problems = read_forms(form_files)
        # A form not in this deployment may come from what is deployed already (latest first),
        # and a call activity may call the latest deployed version of any process.
        for row in s.scalars(sa.select(ProcessVersion).order_by(ProcessVersion.id.desc())):
            stored, _ = read_forms({f"{fid}.form": text for fid, text in stored_forms(row.forms_json).items()
                                    if fid not in forms})
            for fid, schema in stored.items():
                forms.setdefault(fid, schema)
        models = build_models(bpmn_files, forms, env.handlers.topics, env.settings.max_upload_bytes,
                              form_problems, handler_params=env.handlers.specs, library=_library(s))
        by = actor.username if actor else "cli"
        result = [_store(s, model, by, now) for model in models]
        changed = {d.process_id for d in result if d.changed}
        if changed:
            result += _refresh_callers(env, s, changed, {m.process_id for m in models}, forms, by, now)
        uow.commit()
        return result


def _library(s) -> dict[str, tuple[str, str]]:
    """What a call activity may call: the latest deployed version of every process."""
    library: dict[str, tuple[str, str]] = {}
    for row in s.scalars(sa.select(ProcessVersion).order_by(ProcessVersion.id.desc())):
        library.setdefault(row.process_id, (f"{row.filename} ({row.process_id} v{row.version})", row.bpmn))
    return library


def _store(s, model, by: str, now, reason: str | None = None) -> Deployed:
    digest = model.content_hash()
    latest = s.scalar(sa.select(ProcessVersion).where(ProcessVersion.process_id == model.process_id)
                      .order_by(ProcessVersion.version.desc()).limit(1))
    if latest is not None and latest.content_hash == digest:
        return Deployed(model.process_id, model.name, latest.version, False)
    version = (latest.version if latest else 0) + 1
    row = ProcessVersion(process_id=model.process_id, version=version, name=model.name,
                         filename=Path(model.filename).name, content_hash=digest, bpmn=model.bpmn,
                         forms_json=model.forms_json(), deployed_by=by, deployed_at=now)
    s.add(row)
    s.flush()
    details = {"process_id": model.process_id, "version": version, "hash": digest}
    if reason:
        details["reason"] = reason
    s.add(Event(case_id=None, at=now, actor=by, kind="deployed", details=details))
    return Deployed(model.process_id, model.name, version, True)


def _refresh_callers(env: Env, s, changed: set[str], deployed_now: set[str], forms, by: str,
                     now) -> list[Deployed]:
    """A process that calls a process changed by this deploy gets a new version calling the new
    one, so new cases call the latest version (Camunda's default binding) while running cases
    keep the version they started with."""
    from .models_cache import _all_topics
    latest: dict[str, ProcessVersion] = {}
    for row in s.scalars(sa.select(ProcessVersion).order_by(ProcessVersion.id.desc())):
        latest.setdefault(row.process_id, row)
    library = _library(s)
    result = []
    for pid, row in sorted(latest.items()):
        calls = stored_calls(row.forms_json)
        if pid in deployed_now or not set(calls) & changed:
            continue
        topics = set(env.handlers.topics) | set(_all_topics(row.bpmn))
        models = build_models({row.filename: row.bpmn}, forms, topics,
                              max(env.settings.max_upload_bytes, len(row.bpmn.encode()) + 1), library=library)
        model = next(m for m in models if m.process_id == pid)
        called = ", ".join(sorted(set(calls) & changed))
        result.append(_store(s, model, by, now, reason=f"the called process {called} changed"))
    return result


def list_processes(env: Env) -> list[dict]:
    with env.uow() as uow:
        rows = uow.session.scalars(sa.select(ProcessVersion).order_by(ProcessVersion.process_id,
                                                                      ProcessVersion.version))
        latest: dict[str, ProcessVersion] = {}
        counts: dict[str, int] = {}
        for r in rows:
            latest[r.process_id] = r
            counts[r.process_id] = counts.get(r.process_id, 0) + 1
        return [{"process_id": pid, "name": r.name, "version": r.version, "versions": counts[pid],
                 "deployed_at": r.deployed_at, "deployed_by": r.deployed_by} for pid, r in latest.items()]


def process_xml(env: Env, process_id: str) -> str:
    from .cases import latest_version
    with env.uow() as uow:
        return latest_version(uow.session, process_id).bpmn


def option_labels(env: Env, pathways: set[str]) -> dict[tuple[str, str, str], str]:
    """(pathway, field, value) → the label the pathway's forms give that option, for showing
    listable business fields as people read them ("Kiireellinen", not "urgent")."""
    from .cases import latest_version
    from .models_cache import model_for_version
    labels: dict[tuple[str, str, str], str] = {}
    with env.uow() as uow:
        for pathway in pathways:
            model = model_for_version(env, uow.session, latest_version(uow.session, pathway).id)
            for form in model.forms.values():
                for f in form.fields:
                    for value, label in zip(f.options, f.option_labels, strict=False):
                        labels.setdefault((pathway, f.key, value), label)
    return labels
