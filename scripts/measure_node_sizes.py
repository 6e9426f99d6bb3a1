"""Measures, in a real browser, the size each node type is drawn at on frontends 1.32.9, 1.58.1
classic and 1.58.1 Vue nodes, and writes scripts/node_sizes.json (the largest of the three, graph
units, title bar excluded). scripts/build_workflows.py lays the templates out from this table.

    flock /tmp/sde-heavy.lock .venv/bin/python scripts/measure_node_sizes.py
"""
from __future__ import annotations

import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
import repo_path  # noqa: E402,F401  (tests/browser_server)
OUT = os.path.join(ROOT, "scripts", "node_sizes.json")
FRONTENDS = ["1.32.9", "1.58.1-classic", "1.58.1-vue"]

MEASURE = """(types) => {
  app.graph.clear();
  const made = types.map((t, i) => { const n = LiteGraph.createNode(t); n.pos = [40 + (i % 6) * 700, 60 + Math.floor(i / 6) * 900];
                                      app.graph.add(n); return n; });
  return made.map((n) => n.id);
}"""


def measure(frontend: str, types: list[str]) -> dict:
    from playwright.sync_api import sync_playwright

    from browser_server import NODE_BOXES, frontend_server, launch_chromium, open_page, show_whole_graph

    with frontend_server(frontend) as server, sync_playwright() as p:
        browser = launch_chromium(p)
        page = open_page(browser, server, viewport=(1900, 1200))
        page.evaluate(MEASURE, types)
        show_whole_graph(page, 0.25)
        page.wait_for_timeout(1500)
        title = page.evaluate("() => LiteGraph.NODE_TITLE_HEIGHT")
        sizes = {}
        for box in page.evaluate(NODE_BOXES):
            s = box["scale"]
            w, h = box["w"] / s, box["h"] / s - title  # drawn box in graph units, body only
            sizes[box["type"]] = [round(max(w, box["size"][0], box["need"][0])),
                                  round(max(h, box["size"][1], box["need"][1]))]
        browser.close()
        return sizes


def main(types: list[str]) -> dict:
    table = {}
    for frontend in FRONTENDS:
        for kind, (w, h) in measure(frontend, types).items():
            old = table.get(kind, [0, 0])
            table[kind] = [max(old[0], w), max(old[1], h)]
            print(frontend, kind, w, h, flush=True)
    return table


if __name__ == "__main__":
    from build_workflows import node_types_used

    table = main(sorted(node_types_used()))
    with open(OUT, "w", encoding="utf-8") as f:
        f.write("{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in sorted(table.items())) + "\n}\n")
    print("wrote", os.path.relpath(OUT, ROOT))
