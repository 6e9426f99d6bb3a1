// Where the point editor's picture comes from before any run: the node whose output reaches the editor's
// `image` input (through any Reroutes) and the URL its picture can be fetched from. Read-only: nothing
// here changes the graph; the editor follows the widgets and Reroutes named in `watch` for changes.
import { api } from "../../scripts/api.js";
import { say } from "./points_strings.js";

const CASE_LOADER = "SDEDragLoadDragBenchCase";
const MAX_REROUTES = 32; // a loop of Reroutes must not hang the page

/** The /view URL of a picture named as the frontend names files: "sub/name.png [input]" and the like. */
export function viewUrl(name, type, subfolder = "") {
  const annotated = /^(.*) \[(input|output|temp)\]$/.exec(name);
  if (annotated) [name, type] = [annotated[1], annotated[2]];
  const cut = name.lastIndexOf("/");
  if (cut >= 0) [subfolder, name] = [name.slice(0, cut), name.slice(cut + 1)];
  return api.apiURL("/view?" + new URLSearchParams({ filename: name, type, subfolder }));
}

/** The node whose output reaches `node`'s input `name` and the Reroutes passed on the way; origin null when unlinked. */
function sourceNode(node, name) {
  let [current, slot, reroutes] = [node, node.findInputSlot?.(name) ?? -1, []];
  for (let hop = 0; hop < MAX_REROUTES && slot >= 0 && current?.graph; hop++) {
    let link = null;
    try { link = current.getInputLink(slot); } catch { /* a node being removed */ }
    const origin = link && current.graph.getNodeById(link.origin_id);
    if (!origin || origin.type !== "Reroute") return { origin: origin || null, reroutes };
    reroutes.push(origin);
    [current, slot] = [origin, 0];
  }
  return { origin: null, reroutes };
}

/** Where the picture that feeds the node can be fetched before any run: url or, when it cannot be known
 *  until the graph runs, hint; watch: the upstream widgets and Reroutes whose changes can change either.
 *  A DragBench case's picture comes from the pack's /sde_drag/dragbench_case_image route, which finds
 *  the case exactly as the loader node does. */
export function upstreamImage(node) {
  const { origin, reroutes } = sourceNode(node, "image");
  if (!origin) return { hint: say("connect"), watch: reroutes };
  const widget = (name) => origin.widgets?.find((w) => w.name === name);
  const value = (name) => widget(name)?.value;
  const watch = [...reroutes, ...["case", "image"].map(widget).filter(Boolean)];
  if (origin.type === CASE_LOADER && typeof value("case") === "string" && value("case"))
    return { watch, url: api.apiURL("/sde_drag/dragbench_case_image?" + new URLSearchParams({ case: value("case") })) };
  if (typeof value("image") === "string" && value("image")) return { watch, url: viewUrl(value("image"), "input") };
  if (origin.imgs?.[0]?.src) return { watch, url: origin.imgs[0].src };
  return { watch, hint: say("runOnce", origin.title || origin.type) };
}
