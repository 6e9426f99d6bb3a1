"""The pack's nodes (V3 schema), in the order of the node menu."""
from .demo_nodes import SDEDragDemoLoader
from .denoise import SDEDragCycleDenoise, SDEDragODEDenoise
from .diffedit import SDEDragDiffEditMask
from .drag import SDEDragAllInOne, SDEDragCopyPaste
from .drag_points import SDEDragPoints
from .dragbench import SDEDragLoadDragBenchCase
from .fresh_denoise import SDEDragFreshDenoise
from .inversion import SDEDragODEInversion, SDEDragStochasticInversion
from .lora import SDEDragIdentityLoRA, SDEDragSaveLoRA
from .noise import SDEDragNoise
from .sampler import SDEDragSampler

NODES = [
    SDEDragPoints, SDEDragLoadDragBenchCase, SDEDragDemoLoader, SDEDragNoise, SDEDragStochasticInversion,
    SDEDragODEInversion, SDEDragCopyPaste, SDEDragAllInOne, SDEDragCycleDenoise, SDEDragODEDenoise, SDEDragSampler,
    SDEDragIdentityLoRA, SDEDragSaveLoRA, SDEDragFreshDenoise, SDEDragDiffEditMask,
]
