"""Between HTML form posts and form-js schemas: components to render, posts to typed data."""
from __future__ import annotations

import json

from werkzeug.datastructures import MultiDict

from ...engine.forms import FormSchema


def components(form: FormSchema | None) -> list[dict]:
    """The form-js components in designer order (text, groups and fields), for the template."""
    if form is None or not form.source:
        return []
    return json.loads(form.source).get("components", [])


def posted_data(form: FormSchema | None, post: MultiDict) -> dict:
    """Typed values from a browser post; what cannot be converted is passed on as text so that
    the server-side validation names the field."""
    if form is None:
        return {}
    data: dict = {}
    for f in form.fields:
        name = f"field_{f.key}"
        if f.type == "checkbox":
            data[f.key] = name in post
        elif f.type in ("checklist", "taglist"):
            values = post.getlist(name)
            if values:
                data[f.key] = values
        else:
            raw = (post.get(name) or "").strip()
            if raw == "":
                continue
            if f.type == "number":
                try:
                    data[f.key] = int(raw) if raw.lstrip("-").isdigit() else float(raw.replace(",", "."))
                except ValueError:
                    data[f.key] = raw
            else:
                data[f.key] = raw
    return data
