"""Every pathway's diagram imports into bpmn-js — the rendering core of Camunda Modeler —
with no warnings: every shape and edge is drawable and every reference resolves."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import why_no_browser

REASON = why_no_browser()
if REASON:
    pytest.skip(REASON, allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
VIEWER = ROOT / "node_modules" / "bpmn-js" / "dist" / "bpmn-viewer.production.min.js"
PROCESSES = sorted((ROOT / "processes").glob("*.bpmn"))


@pytest.mark.skipif(not VIEWER.exists(), reason="bpmn-js is not installed (make installs it from npm)")
@pytest.mark.parametrize("path", PROCESSES, ids=[p.stem for p in PROCESSES])
def test_the_diagram_imports_into_bpmn_js_without_warnings(chromium_browser, path):
    page = chromium_browser.new_page()
    try:
        page.set_content('<div id="c" style="width:1600px;height:900px"></div>')
        page.add_script_tag(path=str(VIEWER))
        result = page.evaluate("""async (xml) => {
            const viewer = new BpmnJS({ container: '#c' });
            const { warnings } = await viewer.importXML(xml);
            const registry = viewer.get('elementRegistry');
            const drawn = registry.filter(e => e.type !== 'label').map(e => e.businessObject.id);
            return { warnings: warnings.map(w => w.message), drawn };
        }""", path.read_text(encoding="utf-8"))
    finally:
        page.close()
    assert result["warnings"] == [], json.dumps(result["warnings"], ensure_ascii=False)[:1000]
    assert sorted(model_elements(path) - set(result["drawn"])) == []  # nothing in the model is left undrawn


def model_elements(path: Path) -> set[str]:
    """Ids of everything that must appear on the canvas: flow nodes, flows, lanes, the pool."""
    from lxml import etree
    root = etree.parse(str(path)).getroot()
    bpmn = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
    ids = {el.get("id") for el in root.iter(f"{bpmn}participant", f"{bpmn}lane", f"{bpmn}sequenceFlow")}
    for process in root.iter(f"{bpmn}process"):
        for el in process:
            if el.get("id") and etree.QName(el).localname not in ("laneSet", "extensionElements", "documentation"):
                ids.add(el.get("id"))
    return ids
