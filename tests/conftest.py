import pytest

# The repository root and scripts/ are on sys.path through pytest.ini's `pythonpath`; ComfyUI's root
# goes in front of both when the host boots (harness/comfy_host.py), so `nodes` is ComfyUI's nodes.py.


@pytest.fixture(scope="session")
def host():
    from harness.comfy_host import ComfyHost

    h = ComfyHost()
    from harness import tiny_models

    h.register(tiny_models.TEST_NODES)
    return h


@pytest.fixture()
def captured():
    from harness import tiny_models

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
