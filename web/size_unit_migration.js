// Saved-workflow migration for the drag's size unit (issue 27.2; nodes/size_units.py).
// r and step_size count 64ths of the latent's short side since the `size_unit` widget exists; a
// workflow saved before it holds no value for that widget (it is the last one) and meant latent
// cells, so such a node is set to "latent cells" when it loads: it runs exactly as it did.
// A node created now, or saved with the widget, keeps its value.
import { app } from "../../scripts/app.js";

const NODES_WITH_SIZES = ["SDEDragAllInOne", "SDEDragCopyPaste"];
const UNIT = "size_unit";
const LEGACY_UNIT = "latent cells";

/** Whether the serialized node `info` was saved before it had a value for the widget at `index`. */
export function savedWithoutWidget(info, index, name) {
  const values = info?.widgets_values;
  if (Array.isArray(values)) return values.length <= index;
  if (values && typeof values === "object") return !(name in values);
  return true;
}

app.registerExtension({
  name: "SDEDrag.SizeUnitMigration",
  beforeRegisterNodeDef(nodeType, nodeData) {
    if (!NODES_WITH_SIZES.includes(nodeData?.name)) return;
    const original = nodeType.prototype.onConfigure;
    nodeType.prototype.onConfigure = function (info) {
      const result = original?.apply(this, arguments);
      const widget = this.widgets?.find((w) => w.name === UNIT);
      if (widget && savedWithoutWidget(info, this.widgets.indexOf(widget), UNIT)) widget.value = LEGACY_UNIT;
      return result;
    };
  },
});
