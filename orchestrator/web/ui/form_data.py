"""Between HTML form posts and form-js schemas: components to render, posts to typed data."""
from __future__ import annotations

import json
import re

from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict

from ...engine.forms import FormSchema


def components(form: FormSchema | None) -> list[dict]:
    """The form-js components in designer order (text, groups and fields), for the template."""
    if form is None or not form.source:
        return []
    return json.loads(form.source).get("components", [])


def rows(items: list[dict]) -> list[list[dict]]:
    """Consecutive components with the same ``layout.row`` share a row, as in form-js."""
    result: list[list[dict]] = []
    last = object()
    for item in items:
        row = (item.get("layout") or {}).get("row")
        if row is not None and row == last and result:
            result[-1].append(item)
        else:
            result.append([item])
        last = row
    return result


def defaults(items: list[dict]) -> dict:
    """``defaultValue`` of every field (groups included), as form-js pre-fills them."""
    found: dict = {}
    for item in items:
        if item.get("type") == "group":
            found.update(defaults(item.get("components") or []))
        elif item.get("key") and "defaultValue" in item:
            found[item["key"]] = item["defaultValue"]
    return found


_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![*\w])_(.+?)_(?![\w])")


def markdown_lite(text: str | None) -> Markup:
    """The markdown of a form-js text component: headings, paragraphs, **bold**, _italic_.
    Everything is escaped first; only these tags are produced."""
    out = []
    for block in re.split(r"\n\s*\n", (text or "").strip()):
        line = block.strip()
        if not line:
            continue
        m = _HEADING.match(line)
        body = escape(m.group(2) if m else line)
        body = Markup(_ITALIC.sub(r"<em>\1</em>", _BOLD.sub(r"<strong>\1</strong>", str(body))))
        if m:
            level = min(len(m.group(1)) + 1, 6)
            out.append(Markup(f"<h{level}>") + body + Markup(f"</h{level}>"))
        else:
            out.append(Markup("<p>") + Markup(str(body).replace("\n", "<br>")) + Markup("</p>"))
    return Markup("").join(out)


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
