"""Only an old name: the demo model is defined in demo/model.py. benchmarks/eval_demo.py (being rewritten)
still loads it as `host.module("nodes.demo_model")`; delete this file once it loads "demo.model"."""
from ..demo.model import load_demo_model  # noqa: F401
