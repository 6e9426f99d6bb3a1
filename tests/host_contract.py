"""Every piece of ComfyUI the pack relies on, and the shape it relies on, in one list.

`tests/test_host_contract.py` checks this list against the host the suite runs on (the pinned
ComfyUI in CI; any other with `COMFYUI_PATH=/path/to/ComfyUI`), and checks that the list is
complete: a new use of a ComfyUI module in `nodes/` or `__init__.py` that is not listed here
fails the test, so the next host change is a failing test rather than a user's traceback.

Three kinds of reliance:
- MODULE_SYMBOLS: names the pack reaches through an import of a ComfyUI module; each call the
  pack makes to one (positional count, keyword names) is bound against the host's signature.
- HOST_CALLS_PACK: places where ComfyUI calls a function the pack hands it; the host's own call
  (read from its source) is bound against the pack's function.
- OBJECT_MEMBERS: attributes and methods the pack uses on objects ComfyUI hands it.
"""
from __future__ import annotations

# dotted name -> why the pack needs it (the call shapes are read from the pack's source)
MODULE_SYMBOLS = {
    "comfy.k_diffusion.sampling.default_noise_sampler": "SDE Sampler: ComfyUI's seeded noise",
    "comfy.model_base.Flux": "guidance: Flux takes its guidance as a model input",
    "comfy.model_management": "Identity LoRA sets its in_training flag where the host has one (0.2x+)",
    "comfy.model_management.current_loaded_models": "memory budget: models that can be offloaded",
    "comfy.model_management.get_free_memory": "memory budget",
    "comfy.model_management.intermediate_device": "where outputs live",
    "comfy.model_management.load_models_gpu": "Identity LoRA loads the model before training",
    "comfy.model_management.soft_empty_cache": "Identity LoRA frees its cache after training",
    "comfy.model_management.throw_exception_if_processing_interrupted": "cancel",
    "comfy.model_patcher.create_model_options_clone": "the guider's own model options",
    "comfy.patcher_extension.WrappersMP.APPLY_MODEL": "Identity LoRA applied per step",
    "comfy.patcher_extension.WrappersMP.PREPARE_SAMPLING": "memory reservation for the real batch",
    "comfy.patcher_extension.add_wrapper_with_key": "both wrappers",
    "comfy.sampler_helpers.convert_cond": "Identity LoRA's conditioning",
    "comfy.samplers.CFGGuider": "every node samples inside ComfyUI's guider",
    "comfy.samplers.KSAMPLER": "the pack's samplers as ComfyUI samplers",
    "comfy.samplers.calculate_sigmas": "the model's own schedule",
    "comfy.samplers.encode_model_conds": "Identity LoRA's conditioning",
    "comfy.samplers.sampling_function": "the guider's prediction with per-step cfg",
    "comfy.utils.PROGRESS_BAR_ENABLED": "progress bar",
    "comfy.utils.ProgressBar": "progress bar",
    "comfy_api.v0_0_2.ComfyExtension": "V3 entry point",
    "comfy_api.v0_0_2.io.Clip.Output": "schema", "comfy_api.v0_0_2.io.Combo.Input": "schema",
    "comfy_api.v0_0_2.io.ComfyNode": "every node's base (ComfyUI-Manager reads it)",
    "comfy_api.v0_0_2.io.Conditioning.Input": "schema", "comfy_api.v0_0_2.io.Custom": "DRAG_POINTS and friends",
    "comfy_api.v0_0_2.io.Float.Input": "schema", "comfy_api.v0_0_2.io.Guider.Input": "schema",
    "comfy_api.v0_0_2.io.Image.Input": "schema", "comfy_api.v0_0_2.io.Image.Output": "schema",
    "comfy_api.v0_0_2.io.Input.__init__": "whether inputs take `advanced` (later hosts)",
    "comfy_api.v0_0_2.io.Int.Input": "schema", "comfy_api.v0_0_2.io.Latent.Input": "schema",
    "comfy_api.v0_0_2.io.Latent.Output": "schema", "comfy_api.v0_0_2.io.Mask.Input": "schema",
    "comfy_api.v0_0_2.io.Mask.Output": "schema", "comfy_api.v0_0_2.io.Model.Input": "schema",
    "comfy_api.v0_0_2.io.Model.Output": "schema", "comfy_api.v0_0_2.io.NodeOutput": "every node's result",
    "comfy_api.v0_0_2.io.Sampler.Output": "schema", "comfy_api.v0_0_2.io.Schema": "schema; its fields (search_aliases)",
    "comfy_api.v0_0_2.io.Sigmas.Input": "schema", "comfy_api.v0_0_2.io.Sigmas.Output": "schema",
    "comfy_api.v0_0_2.io.String.Input": "schema", "comfy_api.v0_0_2.io.String.Output": "schema",
    "comfy_api.v0_0_2.io.Vae.Input": "schema", "comfy_api.v0_0_2.io.Vae.Output": "schema",
    "folder_paths.get_folder_paths": "LoRA files", "folder_paths.get_input_directory": "DragBench cases",
    "folder_paths.get_temp_directory": "the points widget's preview",
    "latent_preview.prepare_callback": "step previews",
    "server.PromptServer.instance.routes.get": "the case-image route",
}

# (host function, the call inside it that reaches the pack, the pack's callable as
# "module:attribute.path" on the loaded pack, arguments to call that with to get the hook (None:
# it is the hook), arguments the host's wrapper machinery puts first)
HOST_CALLS_PACK = [
    # WrapperExecutor.execute(*args, **kwargs) calls wrapper(executor, *args, **kwargs)
    ("comfy.sampler_helpers.prepare_sampling", "execute", "nodes.runner:batch_reserving_wrapper", (2,), 1),
    ("comfy.model_base.BaseModel.apply_model", "execute", "nodes.lora_train:IdentityLoRA.__call__", None, 2),
    ("comfy.samplers.CFGGuider.outer_predict_noise", "execute", "nodes.guidance:BranchGuider.predict_noise", None, 1),
    ("comfy.samplers.KSAMPLER.sample", "sampler_function", "nodes.sampler:sample_eta_comfy", None, 0),
    ("comfy.samplers.KSAMPLER.sample", "sampler_function", "nodes.runner:GuidedRun.sampler_function",
     (None, None, None, {}), 0),
]

# scheduler names the pack asks comfy.samplers.calculate_sigmas for
SCHEDULER_NAMES = ["ddim_uniform", "simple"]

# object (as the test builds it) -> members the pack reads or calls on it
OBJECT_MEMBERS = {
    "ModelPatcher": ["clone", "get_model_object", "model_size", "load_device", "model", "model_options",
                     "get_wrappers"],
    "BaseModel": ["latent_format", "process_latent_in", "process_latent_out", "memory_required",
                  "memory_usage_factor", "model_sampling", "diffusion_model", "model_config", "apply_model"],
    "CFGGuider": ["model_options", "original_conds", "inner_set_conds", "set_cfg", "set_conds", "sample", "cfg",
                  "model_patcher"],
    "ModelSampling": ["sigma_min", "calculate_denoised", "noise_scaling", "inverse_noise_scaling",
                      "percent_to_sigma"],
    "LoadedModel": ["model", "device", "model_loaded_memory"],
    "WrapperExecutor": ["class_obj", "__call__", "execute"],
}
