"""Measuring on a noisy machine: interleaved repeats, min/median/max, model-call counting,
peak RSS."""
from __future__ import annotations

import math
import resource
import statistics
import time


def stats(values) -> dict:
    values = [float(v) for v in values]
    return {"min": min(values), "median": statistics.median(values), "max": max(values), "n": len(values),
            "values": values}


def ratio_stats(a: dict, b: dict) -> dict:
    """a / b from the minimum of each side (the least-disturbed run), plus the same for the
    medians and the range of the per-repeat ratios."""
    per_repeat = [x / y for x, y in zip(a["values"], b["values"])]
    return {"of_min": a["min"] / b["min"], "of_median": a["median"] / b["median"],
            "per_repeat": stats(per_repeat)}


def interleaved(sides: dict, repeats: int, sync=lambda: None, log=None) -> dict:
    """Run every side once per round, in the given order (A B C A B C ...), `repeats` rounds.
    Returns {name: [seconds, ...]}."""
    times = {name: [] for name in sides}
    for r in range(repeats):
        for name, fn in sides.items():
            sync()
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - start)
            if log:
                log(f"  round {r + 1}/{repeats} {name}: {times[name][-1]:.3f} s")
    return times


class CallCounter:
    """A `model_options["model_function_wrapper"]` (ModelPatcher.set_model_unet_function_wrapper)
    counting UNet calls and batch rows. Shared by every clone of the patcher (deepcopy gives
    the same object), reset with `reset()`."""

    def __init__(self):
        self.calls = 0
        self.rows = 0
        self.per_call = []

    def __deepcopy__(self, memo):
        return self

    def reset(self):
        self.calls, self.rows, self.per_call = 0, 0, []

    def snapshot(self) -> dict:
        return {"calls": self.calls, "rows": self.rows, "rows_per_call": list(self.per_call)}

    def __call__(self, apply_model, args):
        rows = int(args["input"].shape[0])
        self.calls += 1
        self.rows += rows
        self.per_call.append(rows)
        return apply_model(args["input"], args["timestep"], **args["c"])


def counted(model, counter: CallCounter):
    out = model.clone()
    out.set_model_unet_function_wrapper(counter)
    return out


def expected_rows(cfg_scales_per_subdrag) -> int:
    """The formula: sum over sub-drags and steps of 2 (edited + recorded) x (1 where the step's
    cfg is 1 (ComfyUI skips the uncond row: math.isclose(cfg, 1)) else 2)."""
    return sum(2 * (1 if math.isclose(c, 1.0) else 2) for scales in cfg_scales_per_subdrag for c in scales)


def reset_peak_rss() -> bool:
    """Reset the process's peak RSS (VmHWM, what ru_maxrss reads) to its current RSS."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def current_rss() -> int:
    try:
        with open("/proc/self/statm") as f:
            import os

            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def ru_maxrss() -> int:
    """getrusage's ru_maxrss in bytes (Linux reports KiB). NOT this process's own peak in a
    child started by fork + exec: Linux keeps the pre-exec peak (the parent's, copied by fork)
    in it, and /proc/self/clear_refs does not reset that part."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def peak_rss() -> int:
    """This process's own peak RSS (VmHWM of /proc/self/status, reset by reset_peak_rss),
    in bytes; ru_maxrss where /proc is missing."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return ru_maxrss()
