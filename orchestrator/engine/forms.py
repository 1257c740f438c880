"""form-js (Camunda Forms) schemas: read them at deploy, enforce them on every submit.

The browser may render a form any way it likes; this module is the authority on what a
submission must contain. Validation mirrors what Camunda Modeler's form preview enforces
for the supported component types, and every problem names the field.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time

from ..errors import DeploymentError, FormValidationError, Problem

INPUT_TYPES = {"textfield", "textarea", "number", "checkbox", "checklist", "radio", "select",
               "datetime", "taglist"}
DISPLAY_TYPES = {"text", "spacer", "separator", "image", "html"}
CONTAINER_TYPES = {"group"}
CHOICE_TYPES = {"checklist", "radio", "select", "taglist"}
MAX_TEXT = 20_000  # a textfield without maxLength still has a ceiling


@dataclass(frozen=True)
class FormField:
    key: str
    type: str
    label: str
    component_id: str | None = None
    required: bool = False
    min: float | None = None
    max: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    subtype: str | None = None
    options: tuple[str, ...] = ()
    option_labels: tuple[str, ...] = ()
    decimal_digits: int | None = None
    kind: str | None = None  # "username": the server checks the user exists (properties.polku)


@dataclass(frozen=True)
class FormSchema:
    form_id: str
    fields: tuple[FormField, ...]
    source: str = field(repr=False, default="")

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(f.key for f in self.fields)

    def username_fields(self) -> list[str]:
        return [f.key for f in self.fields if f.kind == "username"]

    def validate(self, data: object, *, partial: bool = False) -> dict:
        """Return the cleaned values, or raise ``FormValidationError`` listing every bad field.

        ``partial`` (drafts) skips the required checks but still checks types and limits.
        """
        if not isinstance(data, dict):
            raise FormValidationError("form data must be a JSON object",
                                      [Problem("expected an object of field values")])
        problems: list[Problem] = []
        known = {f.key: f for f in self.fields}
        for key in data:
            if key not in known:
                problems.append(Problem("is not a field of this form", field=str(key)))
        cleaned: dict = {}
        for f in self.fields:
            present = f.key in data and data[f.key] not in (None, "", [])
            if not present:
                if f.required and not partial:
                    problems.append(Problem(f"{f.label or f.key} is required", field=f.key))
                elif f.key in data:
                    cleaned[f.key] = data[f.key]
                continue
            try:
                cleaned[f.key] = _clean(f, data[f.key], partial)
            except ValueError as exc:
                problems.append(Problem(str(exc), field=f.key))
        if problems:
            raise FormValidationError(f"form {self.form_id!r}: {len(problems)} field(s) need attention",
                                      problems)
        return cleaned


def _label(f: FormField) -> str:
    return f.label or f.key


def _clean(f: FormField, value: object, partial: bool) -> object:
    t = f.type
    if t in ("textfield", "textarea"):
        if not isinstance(value, str):
            raise ValueError(f"{_label(f)} must be text")
        limit = f.max_length if f.max_length is not None else MAX_TEXT
        if len(value) > limit:
            raise ValueError(f"{_label(f)} may be at most {limit} characters")
        if f.min_length is not None and len(value) < f.min_length:
            raise ValueError(f"{_label(f)} must be at least {f.min_length} characters")
        if f.pattern and not re.fullmatch(f.pattern, value):
            raise ValueError(f"{_label(f)} is not in the expected format")
        return value
    if t == "number":
        number = _number(value, f)
        if f.min is not None and number < f.min:
            raise ValueError(f"{_label(f)} must be at least {_fmt(f.min)}")
        if f.max is not None and number > f.max:
            raise ValueError(f"{_label(f)} must be at most {_fmt(f.max)}")
        return number
    if t == "checkbox":
        if not isinstance(value, bool):
            raise ValueError(f"{_label(f)} must be true or false")
        if f.required and not value and not partial:
            raise ValueError(f"{_label(f)} must be checked")
        return value
    if t in ("radio", "select"):
        if not isinstance(value, str) or value not in f.options:
            raise ValueError(f"{_label(f)}: {value!r} is not one of {', '.join(f.options)}")
        return value
    if t in ("checklist", "taglist"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{_label(f)} must be a list of choices")
        bad = [v for v in value if v not in f.options]
        if bad:
            raise ValueError(f"{_label(f)}: {', '.join(map(repr, bad))} not among {', '.join(f.options)}")
        return list(dict.fromkeys(value))
    if t == "datetime":
        return _datetime(value, f)
    raise ValueError(f"{_label(f)}: unsupported field type {t}")  # excluded at deploy


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _number(value: object, f: FormField) -> int | float:
    if isinstance(value, bool):
        raise ValueError(f"{_label(f)} must be a number")
    if isinstance(value, str):
        try:
            value = float(value.replace(",", ".")) if re.search(r"[.,eE]", value) else int(value)
        except ValueError:
            raise ValueError(f"{_label(f)} must be a number") from None
    if not isinstance(value, int | float) or (isinstance(value, float) and not math.isfinite(value)):
        raise ValueError(f"{_label(f)} must be a number")
    if f.decimal_digits == 0 and isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{_label(f)} must be a whole number")
        value = int(value)
    return value


def _datetime(value: object, f: FormField) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{_label(f)} must be a date/time text")
    text = value.strip()
    try:
        if f.subtype == "date":
            return date.fromisoformat(text).isoformat()
        if f.subtype == "time":
            return time.fromisoformat(text).isoformat(timespec="minutes")
        return datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()
    except ValueError:
        expected = {"date": "YYYY-MM-DD", "time": "HH:MM"}.get(f.subtype or "", "YYYY-MM-DDTHH:MM")
        raise ValueError(f"{_label(f)} must be written {expected}") from None


def parse_form(text: str | bytes, filename: str) -> FormSchema:
    """Read a ``.form`` file; raise ``DeploymentError`` with one problem per bad component."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise DeploymentError(f"{filename} is not UTF-8", [Problem("file is not UTF-8 text",
                                                                        file=filename)]) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DeploymentError(f"{filename} is not valid JSON", [Problem(
            f"JSON error: {exc.msg}", file=filename, line=exc.lineno)]) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("components"), list):
        raise DeploymentError(f"{filename} is not a form-js form", [Problem(
            "expected an object with a 'components' list (a form-js / Camunda Forms file)", file=filename)])
    form_id = filename.rsplit("/", 1)[-1].removesuffix(".form")
    problems: list[Problem] = []
    fields: list[FormField] = []
    _collect(doc["components"], fields, problems, filename)
    seen: dict[str, str | None] = {}
    for f in fields:
        if f.key in seen:
            problems.append(Problem(f"key {f.key!r} is used by two fields ({seen[f.key]} and {f.component_id})",
                                    file=filename, element_id=f.component_id, field=f.key,
                                    fix="give every input field its own key"))
        seen[f.key] = f.component_id
    if problems:
        raise DeploymentError(f"{filename}: {len(problems)} problem(s)", problems)
    return FormSchema(form_id, tuple(fields), text)


def _collect(components: list, out: list[FormField], problems: list[Problem], filename: str) -> None:
    for comp in components:
        if not isinstance(comp, dict):
            problems.append(Problem("a component is not an object", file=filename))
            continue
        cid, ctype = comp.get("id"), comp.get("type")
        if ctype in DISPLAY_TYPES:
            continue
        if ctype in CONTAINER_TYPES:
            _collect(comp.get("components") or [], out, problems, filename)
            continue
        if ctype not in INPUT_TYPES:
            problems.append(Problem(
                f"component type {ctype!r} is not supported", file=filename, element_id=cid,
                fix=f"use one of {', '.join(sorted(INPUT_TYPES | DISPLAY_TYPES | CONTAINER_TYPES))}"))
            continue
        key = comp.get("key")
        label = comp.get("label") or ""
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", key):
            problems.append(Problem(f"field {label!r} has no usable key ({key!r})", file=filename,
                                    element_id=cid, fix="set a key made of letters, digits and _"))
            continue
        validate = comp.get("validate") or {}
        options: tuple[str, ...] = ()
        option_labels: tuple[str, ...] = ()
        if ctype in CHOICE_TYPES:
            if comp.get("valuesKey") or comp.get("valuesExpression"):
                problems.append(Problem("options loaded at run time are not supported", file=filename,
                                        element_id=cid, field=key, fix="list the options as static values"))
                continue
            values = comp.get("values") or []
            options = tuple(str(v.get("value")) for v in values if isinstance(v, dict))
            option_labels = tuple(str(v.get("label") or v.get("value")) for v in values if isinstance(v, dict))
            if not options:
                problems.append(Problem("a choice field needs at least one option", file=filename,
                                        element_id=cid, field=key))
        out.append(FormField(
            key=key, type=ctype, label=label, component_id=cid,
            required=bool(validate.get("required")),
            min=_opt_num(validate.get("min")), max=_opt_num(validate.get("max")),
            min_length=_opt_int(validate.get("minLength")), max_length=_opt_int(validate.get("maxLength")),
            pattern=validate.get("pattern") or None,
            subtype=comp.get("subtype") or ("datetime" if ctype == "datetime" else None),
            options=options, option_labels=option_labels, decimal_digits=_opt_int(comp.get("decimalDigits")),
            kind=(comp.get("properties") or {}).get("polku") if isinstance(comp.get("properties"), dict) else None,
        ))


def _opt_num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _opt_int(value: object) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


EMPTY_FORM = FormSchema("", ())
