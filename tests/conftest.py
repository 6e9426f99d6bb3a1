import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# At the END of sys.path: ComfyUI's root goes in front, so `nodes` stays ComfyUI's nodes.py
# while the pure `sde_core` package (which ComfyUI lacks) resolves to ours.
for p in (str(REPO), str(REPO / "tests")):
    if p not in sys.path:
        sys.path.append(p)


@pytest.fixture(scope="session")
def host():
    from comfy_host import ComfyHost

    h = ComfyHost()
    import tiny_models

    h.register(tiny_models.TEST_NODES)
    return h


@pytest.fixture()
def captured():
    import tiny_models

    tiny_models.CAPTURED.clear()
    return tiny_models.CAPTURED


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright, one per browser-test module."""
    from browser_server import launch_chromium
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()
