"""Deploy BPMN + forms: all-or-nothing, a new version only when the content changed."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from ..engine.deployment import build_models, read_forms, stored_forms
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
        library: dict[str, tuple[str, str]] = {}
        for row in s.scalars(sa.select(ProcessVersion).order_by(ProcessVersion.id.desc())):
            stored, _ = read_forms({f"{fid}.form": text for fid, text in stored_forms(row.forms_json).items()
                                    if fid not in forms})
            for fid, schema in stored.items():
                forms.setdefault(fid, schema)
            library.setdefault(row.process_id, (f"{row.filename} ({row.process_id} v{row.version})", row.bpmn))
        models = build_models(bpmn_files, forms, env.handlers.topics, env.settings.max_upload_bytes,
                              form_problems, library=library)
        result = []
        for model in models:
            digest = model.content_hash()
            latest = s.scalar(sa.select(ProcessVersion).where(ProcessVersion.process_id == model.process_id)
                              .order_by(ProcessVersion.version.desc()).limit(1))
            if latest is not None and latest.content_hash == digest:
                result.append(Deployed(model.process_id, model.name, latest.version, False))
                continue
            version = (latest.version if latest else 0) + 1
            row = ProcessVersion(process_id=model.process_id, version=version, name=model.name,
                                 filename=Path(model.filename).name, content_hash=digest, bpmn=model.bpmn,
                                 forms_json=model.forms_json(),
                                 deployed_by=actor.username if actor else "cli", deployed_at=now)
            s.add(row)
            s.flush()
            s.add(Event(case_id=None, at=now, actor=actor.username if actor else "cli", kind="deployed",
                        details={"process_id": model.process_id, "version": version, "hash": digest}))
            result.append(Deployed(model.process_id, model.name, version, True))
        uow.commit()
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
