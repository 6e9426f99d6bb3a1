"""Input declarations shared by the pack's nodes (one wording for one knob)."""

SEED = ("INT", {"default": 1234, "min": 0, "max": 0xFFFF_FFFF_FFFF_FFFF, "control_after_generate": True,
                "tooltip": "Seed of every random draw of this node: the same seed gives the same output."})
STEPS = ("INT", {"default": 200, "min": 1, "max": 10000,
                 "tooltip": "Steps of the full schedule over [0, T] (the paper's DDIM schedule); only the last "
                            "t0 x steps are run. Ignored when SIGMAS are connected."})
T0 = ("FLOAT", {"default": 0.6, "min": 0.01, "max": 1.0, "step": 0.01,
                "tooltip": "Edit time as a fraction of T: how far the image is inverted (0 < t0 <= 1). Higher "
                           "allows larger changes, lower keeps more detail. Ignored when SIGMAS are connected."})
CFG = ("FLOAT", {"default": 3.0, "min": 0.0, "max": 100.0, "step": 0.1, "round": 0.01,
                 "tooltip": "Classifier-free guidance scale. Any value but 1 needs a negative (paper: the empty "
                            "prompt); without one the node refuses. Guidance-distilled models (Flux dev) take cfg 1 "
                            "and their guidance from FluxGuidance; other cfg values are refused there."})
SIGMAS = ("SIGMAS", {"tooltip": "Optional ComfyUI SIGMAS from t0 down to 0 (any scheduler, e.g. BasicScheduler "
                                "-> SplitSigmas). Overrides steps and t0."})
MODEL = ("MODEL", {"tooltip": "The diffusion model (EPS, V-prediction or rectified-flow)."})
POSITIVE = ("CONDITIONING", {"tooltip": "Prompt conditioning (describe the desired result)."})
NEGATIVE = ("CONDITIONING", {"tooltip": "Negative conditioning for classifier-free guidance: the paper guides "
                                        "against the empty prompt (CLIP Text Encode with no text). Required when cfg "
                                        "is not 1; not needed (and unused) at cfg 1, e.g. on Flux dev."})
GUIDER = ("GUIDER", {"tooltip": "Optional ComfyUI GUIDER used as is instead of positive/negative/cfg "
                                "(a CFGGuider's cfg is ramped where this node ramps cfg; other guiders are not)."})
MASK_SIZE = ("Size: the image's (as given to VAE Encode; up to factor - 1 px more per side is cropped as VAE Encode "
             "crops the image) or the latent's; any other size is an error.")
MASK = ("MASK", {"tooltip": "Editable region (1 = may change). Outside it every step keeps the recorded latent, "
                            "so the rest of the image is kept exactly. " + MASK_SIZE})
TRAJECTORY = ("SDE_TRAJECTORY", {"tooltip": "The recording made by an inversion node at these sigmas."})
LATENT = ("LATENT", {"tooltip": "Image latent (e.g. from VAE Encode)."})
DRAG_POINTS = ("DRAG_POINTS", {"tooltip": "Source -> target pairs in image pixels, from the Drag Points node "
                                          "(the whole drag; every latent of a batch gets the same points)."})
