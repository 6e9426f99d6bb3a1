#!/usr/bin/env bash
# ComfyUI with this pack on http://127.0.0.1:${PORT:-8188}, CPU only. Ctrl-C stops it.
# Extra arguments go to ComfyUI's main.py (e.g. --front-end-root DIR).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC1091
source "$ROOT/.host/env.sh"
exec "$SDE_DRAG_PYTHON" "$COMFYUI_ROOT/main.py" --cpu --listen 127.0.0.1 --port "${PORT:-8188}" \
  --base-directory "$COMFYUI_BASE" --database-url "sqlite:///:memory:" --disable-api-nodes \
  --disable-auto-launch "$@"
