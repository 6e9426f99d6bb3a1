"""The memory checks on a device with models loaded, without a GPU: ComfyUI's bookkeeping
(`current_loaded_models`, `get_free_memory`) is given a CUDA device, the model about to run and
another model loaded on it. The model about to run must never count as free memory."""
import types

import pytest
import torch

GiB = 1 << 30
CUDA = torch.device("cuda", 0)  # a device object only: nothing is allocated on it


class Patcher:
    """What the checks read of a ModelPatcher: its shared inner model, size and load device."""

    def __init__(self, size):
        self.model = types.SimpleNamespace(memory_required=lambda shape: 0)
        self.size, self.load_device = size, CUDA

    def model_size(self):
        return self.size


def loaded(patcher, on_device):
    return types.SimpleNamespace(model=patcher, device=CUDA, model_loaded_memory=lambda: on_device)


@pytest.fixture
def device_with_models(host, monkeypatch):
    import comfy.model_management as mm

    running, other = Patcher(6 * GiB), Patcher(3 * GiB)
    monkeypatch.setattr(mm, "get_free_memory", lambda device=None, *a, **k: 1 * GiB)
    # the running model is half loaded (4 of 6 GiB), the other fully (3 GiB)
    monkeypatch.setattr(mm, "current_loaded_models", [loaded(running, 4 * GiB), loaded(other, 3 * GiB)])
    return host.module("nodes.limits"), running


def test_the_model_about_to_run_is_not_free_memory_and_its_unloaded_part_is_owed(device_with_models):
    limits, running = device_with_models
    budget = limits.memory_budget(CUDA, running)
    # 1 free + 3 from offloading the other model - 2 of the running model still to load
    assert budget == {"device": "cuda:0", "free": 1 * GiB, "offloadable": 3 * GiB, "to_load": 2 * GiB,
                      "available": 2 * GiB}


def test_a_recording_that_fits_only_if_the_running_model_were_freed_is_refused_with_the_figures(device_with_models):
    limits, running = device_with_models
    shape = (1, 4, 128, 128)  # 256 KiB a state
    steps = 5000  # 1.2 GiB recorded, twice while stacking (2.4 GiB): fits in 1+4+3 GiB, not in 2 GiB
    assert limits.recording_need(shape, steps) > limits.available_bytes(CUDA, running)
    with pytest.raises(ValueError) as error:
        limits.check_memory(shape, steps, 0, CUDA, "SDE Drag", model=running)
    message = str(error.value)
    assert "2.00 GiB is available on cuda:0 (1.00 GiB free + 3.00 GiB from offloading other models - 2.00 GiB of " \
           "this model's weights still to load)" in message, message
    assert limits.check_memory(shape, 100, 0, CUDA, "SDE Drag", model=running) > 0  # a small one passes


def test_lora_training_is_refused_before_any_step_when_its_activations_cannot_fit(device_with_models):
    limits, running = device_with_models
    running.model.memory_usage_factor = 1.0  # SD1.5's
    # the measured rule: 0.75 GiB + 6 x 0.15 MiB per latent cell + 16 bytes per LoRA weight
    need = limits.lora_training_need(running, (1, 4, 64, 64), 800_000)
    assert need == int(0.75 * GiB + 6 * 0.15 * 2**20 * 64 * 64) + 16 * 800_000
    with pytest.raises(ValueError) as error:
        limits.check_training_memory(running, (1, 4, 64, 64), 800_000)
    message = str(error.value)
    assert message.startswith("latent: Identity LoRA training needs about") and "Nothing was trained" in message
    assert "2.00 GiB is available on cuda:0" in message
