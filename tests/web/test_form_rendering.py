"""form-js components rendered as Camunda Modeler's preview shows them."""
from __future__ import annotations

from orchestrator.web.ui.form_data import defaults, markdown_lite, rows


def test_text_components_render_safe_markdown():
    html = str(markdown_lite("# Varaa aika\n\nAsiakas saa **kutsun** _tekstiviestinä_.\n\n<script>x</script>"))
    assert html == ("<h2>Varaa aika</h2><p>Asiakas saa <strong>kutsun</strong> <em>tekstiviestinä</em>.</p>"
                    "<p>&lt;script&gt;x&lt;/script&gt;</p>")


def test_fields_sharing_a_layout_row_sit_side_by_side():
    items = [{"key": "a", "layout": {"row": "R1"}}, {"key": "b", "layout": {"row": "R1"}},
             {"key": "c", "layout": {"row": "R2"}}, {"key": "d"}]
    assert [[c["key"] for c in row] for row in rows(items)] == [["a", "b"], ["c"], ["d"]]


def test_default_values_prefill_fields_inside_groups_too():
    items = [{"key": "a", "defaultValue": "x"}, {"type": "group", "components": [{"key": "b", "defaultValue": 3}]}]
    assert defaults(items) == {"a": "x", "b": 3}
