"""`make bench`: how much SDE Drag costs next to its model calls, as ratios measured side by
side in one run. Prints a Markdown table and writes the JSON under benchmarks/results/.

    .venv/bin/python -m benchmarks.run            # full size: ComfyUI's SD1.5 UNet, ~10 min on 2 cores
    .venv/bin/python -m benchmarks.run --quick    # the tiny test model only (CI smoke, ~90 s)
    .venv/bin/python -m benchmarks.run --sdxl-only  # figure 1 on ComfyUI's SDXL UNet alone (~10 GB)
    .venv/bin/python -m benchmarks.run --device cuda
    .venv/bin/python -m benchmarks.run --lora-memory  # Identity LoRA peak memory, SD1.5 + SDXL

Set SDE_DRAG_BENCH_THREADS to pin torch's thread count (default: torch's own for the full run,
1 for --quick). On a machine shared with other jobs, 2 threads on 2 cores can run many times
slower than 1 (OpenMP threads waiting for each other): time on a quiet machine.
"""
from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import cost_figures as figures
from benchmarks import memory, report

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

FULL = {
    "mode": "full", "model": "sd15-unet", "size": 256, "steps": 5, "t0": 0.6, "cfg": 3.0, "drag_px": 16,
    "repeats": 3, "reference_sampler": "euler_ancestral",
    "step_overhead": {"latent_cells": 64, "steps": 200, "t0": 0.6, "repeats": 5, "unet_repeats": 3},
    "nfe_tiny": [{"cfg": 3.0, "drag_px": 48}, {"cfg": 1.0, "drag_px": 48}],
    "memory": [{"model": "sd15-unet", "size": 256, "steps": 5, "t0": 0.6, "cfg": 3.0},
               {"model": "tiny-conv", "size": 1024, "steps": 200, "t0": 0.6, "cfg": 1.0}],
    "lora": {"rank": 4, "train_steps": 4},
    # figure 1 again on SDXL, in a fresh process (its UNet alone is about 10 GB in fp32)
    "sdxl": {"model": "sdxl-unet", "size": 256, "steps": 5, "t0": 0.6, "cfg": 3.0, "drag_px": 16, "repeats": 3,
             "reference_sampler": "euler_ancestral"},
}
# --sdxl-memory: one SDXL drag at 1024x1024 (128x128 latent), 1 denoising step, 1 sub-drag, cfg 3
FULL["sdxl_memory"] = {"model": "sdxl-unet", "size": 1024, "steps": 2, "t0": 0.5, "cfg": 3.0}
QUICK_MEMORY = {"model": "tiny", "size": 256, "steps": 10, "t0": 0.6, "cfg": 3.0}
QUICK = {
    "mode": "quick", "model": "tiny", "size": 256, "steps": 10, "t0": 0.6, "cfg": 3.0, "drag_px": 16,
    "threads": 1,  # a smoke run: one torch thread stays fast on a busy shared machine
    "repeats": 3, "reference_sampler": "euler_ancestral",
    "step_overhead": {"latent_cells": 64, "steps": 200, "t0": 0.6, "repeats": 3, "unet_repeats": 3},
    "nfe_tiny": [{"cfg": 3.0, "drag_px": 48}, {"cfg": 1.0, "drag_px": 48}],
    "memory": [{"model": "tiny", "size": 256, "steps": 10, "t0": 0.6, "cfg": 3.0}],
    "lora": {"rank": 4, "train_steps": 3},
}


def log(message: str):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine(host) -> dict:
    import torch

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = None
    try:
        ram = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        pass
    gpu = torch.cuda.get_device_name(0) if host.device.type == "cuda" else None
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {"platform": platform.platform(), "cpu": cpu, "cores": os.cpu_count(),
            "cores_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "torch_threads": torch.get_num_threads(), "ram_gib": ram, "device": host.device_name, "gpu": gpu,
            "load_average_at_start": load}


def versions(host) -> dict:
    import torch

    from harness.comfy_host import comfyui_version

    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = bool(subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                                    capture_output=True, text=True, timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", False
    return {"python": platform.python_version(), "torch": torch.__version__, "comfyui": comfyui_version(host.root),
            "pack_commit": commit + ("+dirty" if dirty else "")}


def overhead_worker(config: dict, device: str) -> dict:
    """Figure 1 (and the NFE count of the timed drag) on config["model"], in this process."""
    from benchmarks import models
    from harness.comfy_host import ComfyHost
    from benchmarks.workloads import Workloads

    host = ComfyHost(device, quiet=True, threads=env_threads() or config.get("threads"))
    log(f"building {config['model']}")
    model, info = models.build(config["model"])
    w = Workloads(host, config["model"], config["size"], config["steps"], config["t0"], config["cfg"],
                  drag_px=config["drag_px"], model=model, info=info, reference_sampler=config["reference_sampler"])
    log(f"{info['name']}: {info['parameters_m']} M parameters; drag {w.points_text} on {config['size']}px, "
        f"{w.n_steps} steps, {w.n_subdrags} sub-drag(s), cfg {w.cfg}")
    loop = figures.overhead_and_lora(w, config["repeats"], log=log)
    return {"model": {k: v for k, v in info.items() if k != "unet_config"}, "settings": w.settings(),
            "timings": loop, "overhead": figures.figure_overhead(w, loop),
            "nfe": figures.nfe_case(w, loop_counts=loop["counts"]["drag"]), "threads": host_threads()}


def host_threads() -> int:
    import torch

    return torch.get_num_threads()


def figure_overhead_sdxl(config: dict, device: str) -> dict:
    """Figure 1 on SDXL, in a fresh process so its 10 GB are returned before anything else runs."""
    import resource

    command = [sys.executable, str(HERE / "run.py"), "--device", device, "--overhead-worker", json.dumps(config)]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"SDXL overhead worker failed ({done.returncode})")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    fig = dict(out["overhead"], title="Overhead ratio on SDXL: SDE Drag / ComfyUI sampling, same model calls",
               model=out["model"], settings=out["settings"], nfe=out["nfe"], timings=out["timings"],
               torch_threads=out["threads"],
               peak_rss_gib=round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20, 2))
    fig["pass"] = bool(fig["pass"] and out["nfe"]["pass"])
    return fig


def result_head(mode: str, host=None, **more) -> dict:
    """The JSON's header: schema, run (mode, date, command), machine and versions (with a host)."""
    head = {"schema": 1, "run": {"mode": mode, "date": datetime.datetime.now(datetime.timezone.utc)
                                 .isoformat(timespec="seconds"), "command": "-m benchmarks.run " + " ".join(sys.argv[1:])}}
    if host is not None:
        head.update(machine=machine(host), versions=versions(host))
    return {**head, **more}


def write_result(result: dict, out_dir: Path, name: str, started: float) -> dict:
    result["run"]["seconds"] = round(time.time() - started, 1)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    path.write_text(json.dumps(result, indent=1, default=float) + "\n")
    result["path"] = str(path)
    log(f"wrote {path} ({result['run']['seconds']} s)")
    return result


def env_threads() -> int | None:
    """SDE_DRAG_BENCH_THREADS: torch's thread count for the run (None: each mode's default)."""
    value = os.environ.get("SDE_DRAG_BENCH_THREADS")
    return int(value) if value else None


def boot_for_header(device: str):
    from harness.comfy_host import ComfyHost

    return ComfyHost(device, quiet=True, threads=1)  # only for machine() and versions(); a fresh worker process measures


def run_sdxl_only(config: dict, device: str, out_dir: Path) -> dict:
    """`--sdxl-only`: figure 1 on SDXL alone, written as its own JSON (docs/performance.md cites it next to
    the SD1.5 run's)."""
    started = time.time()
    result = result_head("sdxl-overhead", boot_for_header(device), config={"sdxl": config["sdxl"]})
    log("SDXL overhead: fresh process")
    fig = figure_overhead_sdxl(config["sdxl"], device)
    result["machine"]["torch_threads"] = fig["torch_threads"]
    result.update(model=fig["model"], settings=fig["settings"], figures={"overhead_sdxl": fig})
    log(f"  SDXL overhead ratio {fig['value']:.4f}")
    return write_result(result, out_dir, f"{result['run']['date'][:10]}-sdxl-unet-{device}.json", started)


def figure_quality_per_call() -> dict:
    from studies import quality_per_call

    return quality_per_call.figure_quality(fast=getattr(quality_per_call.presets(), "FAST", None))


def run_quality_only(out_dir: Path) -> dict:
    """`--quality-only`: figure 5 alone (it reads make eval's committed results; no model runs),
    written as its own JSON that docs/performance.md's Performance table cites."""
    result = result_head("quality-per-call", figures={"quality": figure_quality_per_call()})
    return write_result(result, out_dir, "quality-per-call.json", time.time())


def run_per_drag(quick: bool, device: str, out_dir: Path) -> dict:
    """`--per-drag`: figure 8 alone (seconds per drag at the paper's and the fast preset, peak
    memory, LoRA training), written as its own JSON."""
    from benchmarks import per_drag
    from studies import quality_per_call
    from harness.comfy_host import ComfyHost

    started = time.time()
    host = ComfyHost(device, quiet=True, threads=env_threads() or (1 if quick else None))
    p = quality_per_call.presets()
    presets = {"paper": p.PAPER, **({"fast": p.FAST} if hasattr(p, "FAST") else {})}
    config = per_drag.QUICK if quick else per_drag.FULL
    result = result_head("per-drag" + ("-quick" if quick else ""), host, config=config)
    log(f"seconds per drag on {device}: {config['model']} {config['size']}px, presets {', '.join(presets)}")
    result["figures"] = {"per_drag": per_drag.figure_per_drag(host, presets, config, log=log)}
    return write_result(result, out_dir, f"{result['run']['date'][:10]}-per-drag-{config['model']}-{device}.json",
                        started)


def run_memory_estimate(config: dict, device: str, out_dir: Path) -> dict:
    """`--sdxl-memory`: the estimate the pack logs before a drag against the drag's measured peak,
    one fresh process, written as its own JSON."""
    started = time.time()
    result = result_head("memory-estimate", boot_for_header(device), config=config)
    log(f"memory estimate: {config['model']} {config['size']}px drag in a fresh process")
    result["figures"] = {"memory_estimate": memory.figure_estimate(config, device, log=log)}
    return write_result(result, out_dir,
                        f"{result['run']['date'][:10]}-{config['model']}-{config['size']}-memory-{device}.json",
                        started)


def run(config: dict, device: str, out_dir: Path) -> dict:
    from benchmarks import models
    from harness.comfy_host import ComfyHost
    from benchmarks.workloads import Workloads

    started = time.time()
    log(f"{config['mode']} run on {device}: booting ComfyUI")
    threads = env_threads() or config.get("threads")
    host = ComfyHost(device, quiet=True, threads=threads)
    result = result_head(config["mode"], host, config=config)
    log(f"building {config['model']}")
    model, info = models.build(config["model"])
    result["model"] = {k: v for k, v in info.items() if k != "unet_config"}
    result["model"]["unet_config"] = info["unet_config"]
    w = Workloads(host, config["model"], config["size"], config["steps"], config["t0"], config["cfg"],
                  drag_px=config["drag_px"], model=model, info=info, reference_sampler=config["reference_sampler"])
    result["settings"] = w.settings()
    log(f"{info['name']}: {info['parameters_m']} M parameters; drag {w.points_text} on {config['size']}px, "
        f"{w.n_steps} steps, {w.n_subdrags} sub-drag(s), cfg {w.cfg}")
    figs = {}

    # 6a. LoRA training (its LoRA is used by the interleaved loop below)
    lora_train = figures.optional_module(host, "nodes.lora_train")
    lora_model, training = None, None
    if lora_train is not None and figures.optional_module(host, "nodes.lora") is not None:
        log(f"LoRA training: rank {config['lora']['rank']}, {config['lora']['train_steps']} steps")
        lora, training = figures.figure_lora_training(host, w, config["lora"]["train_steps"], config["lora"]["rank"])
        lora_model = lora_train.with_identity_lora(w.model, lora)
    sampler_module = figures.optional_module(host, "nodes.sampler")
    fresh = sampler_module.SDEDragSampler.execute(1.0)[0] if sampler_module is not None else None

    # 1, 2, 6b, 7: one interleaved loop
    log(f"interleaved timing: {config['repeats']} rounds of {', '.join(['drag', 'reference'] + (['drag_lora'] if lora_model else []) + (['fresh_sampler', 'ddpm'] if fresh else []))}")
    loop = figures.overhead_and_lora(w, config["repeats"], lora=lora_model, fresh_sampler=fresh,
                                     lora_train=lora_train, log=log)
    result["timings"] = loop
    figs["overhead"] = figures.figure_overhead(w, loop)
    log(f"  overhead ratio {figs['overhead']['value']:.4f}")

    # 2. NFE: the timed drag on this model, plus multi-sub-drag and cfg-1 cases on the tiny model
    nfe_cases = [figures.nfe_case(w, loop_counts=loop["counts"]["drag"])]
    tiny = w if config["model"] == "tiny" else Workloads(host, "tiny", 256, 10, 0.6, 3.0, drag_px=16)
    for case in config["nfe_tiny"]:
        nfe_cases.append(figures.nfe_case(tiny, cfg=case["cfg"], drag_px=case["drag_px"]))
    figs["nfe"] = figures.figure_nfe(nfe_cases)
    log(f"  NFE {figs['nfe']['value']}: " + "; ".join(f"{c['calls']} calls/{c['rows']} rows (formula "
                                                       f"{c['expected_rows']})" for c in nfe_cases))

    # 3. step overhead
    so = config["step_overhead"]
    log(f"step overhead: sde_core loop on [1, 4, {so['latent_cells']}, {so['latent_cells']}]")
    figs["step_overhead"] = figures.figure_step_overhead(host, w.model, info, so["latent_cells"], so["steps"],
                                                         so["t0"], so["repeats"], so["unet_repeats"], log=log)
    log(f"  {figs['step_overhead']['value'] * 100:.4f} % of a UNet call")

    # 6. LoRA
    if training is not None:
        figs["lora"] = figures.figure_lora(w, training, loop)
        log(f"  LoRA: {training['s_per_step']['min']:.3f} s/training step; LoRA code "
            f"{figs['lora']['value'] * 100:.3f} % of a step (end to end "
            f"{figs['lora']['end_to_end']['fraction'] * 100:+.2f} %)")
    else:
        figs["lora"] = figures.todo("Identity LoRA", "nodes/lora.py is not in this checkout")
    # 7. fresh-noise sampler
    if fresh is not None:
        figs["fresh_sampler"] = figures.figure_fresh_sampler(w, loop)
        log(f"  fresh sampler / ddpm {figs['fresh_sampler']['value']:.4f}")
    else:
        figs["fresh_sampler"] = figures.todo("Fresh-noise SDE Sampler / ddpm", "nodes/sampler.py is not in this "
                                                                             "checkout")
    # 5. quality per model call: from the SDE-vs-ODE study's committed results (make eval)
    figs["quality"] = figure_quality_per_call()
    log(f"  quality per call: cheapest plan that holds costs {figs['quality']['value']} of the paper's calls")

    # 4. memory, fresh processes (last: nothing is timed while they run)
    del w, tiny, model, lora_model
    gc.collect()
    log("memory: fresh processes per configuration and side")
    figs["memory"] = memory.figure_memory(host, config["memory"], device, log=log)

    # 1b. figure 1 on SDXL (full runs only), fresh process
    if "sdxl" in config:
        log("SDXL overhead: fresh process")
        figs["overhead_sdxl"] = figure_overhead_sdxl(config["sdxl"], device)
        log(f"  SDXL overhead ratio {figs['overhead_sdxl']['value']:.4f}")

    result["figures"] = figs
    name = f"{config['mode']}-{info['name']}-{device}.json" if config["mode"] == "quick" else \
        f"{result['run']['date'][:10]}-{info['name']}-{device}.json"
    return write_result(result, out_dir, name, started)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny test model only (CI smoke run)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the JSON (default benchmarks/results/, quick runs benchmarks/results/quick/)")
    parser.add_argument("--repeats", type=int, default=None, help="rounds of the interleaved timing (>= 3)")
    parser.add_argument("--steps", type=int, default=None,
                        help="the drag's steps (of which round(t0 x steps) are run); default 5 (full), 10 (quick)")
    parser.add_argument("--sdxl-only", action="store_true", help="figure 1 on ComfyUI's SDXL UNet only (~10 GB)")
    parser.add_argument("--sdxl-memory", action="store_true",
                        help="the pack's memory estimate against the measured peak of one SDXL drag at 1024x1024")
    parser.add_argument("--quality-only", action="store_true",
                        help="figure 5 (quality per model call) alone, from make eval's committed results")
    parser.add_argument("--per-drag", action="store_true",
                        help="seconds per drag at 512x512 (paper and fast presets), peak memory, LoRA training time: "
                             "for a GPU (--device cuda); with --quick the tiny model on the CPU")
    parser.add_argument("--lora-memory", action="store_true",
                        help="Identity LoRA's peak memory on full-size SD1.5 and SDXL (CPU RSS), before and after")
    parser.add_argument("--memory-worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--overhead-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_worker:
        print(json.dumps(memory.worker(json.loads(args.memory_worker))), flush=True)
        return 0
    if args.overhead_worker:
        print(json.dumps(overhead_worker(json.loads(args.overhead_worker), args.device), default=float), flush=True)
        return 0
    config = dict(QUICK if args.quick else FULL)
    if args.repeats is not None:
        if args.repeats < 3:
            parser.error("--repeats: at least 3")
        config["repeats"] = args.repeats
    if args.steps is not None:
        config["steps"] = args.steps
        config["memory"] = [dict(m, steps=args.steps) if m["model"] == config["model"] else m
                            for m in config["memory"]]
    out = args.out or (HERE / "results" / "quick" if args.quick else HERE / "results")
    if args.lora_memory:
        from benchmarks import lora_memory

        print(lora_memory.text(lora_memory.run(log=log)))
        print(f"JSON: {lora_memory.RESULTS}")
        return 0
    if args.per_drag:
        result = run_per_drag(args.quick, args.device, out)
        print(f"JSON: {result['path']}")
        return 0
    if args.quality_only:
        result = run_quality_only(out)
        print(f"JSON: {result['path']}")
        return 0
    if args.sdxl_memory:
        result = run_memory_estimate(config.get("sdxl_memory", QUICK_MEMORY), args.device, out)
        print(report.memory_estimate_text(result))
        print(f"JSON: {result['path']}")
        return 0
    if args.sdxl_only:
        if args.repeats is not None:
            config["sdxl"] = dict(config["sdxl"], repeats=args.repeats)
        result = run_sdxl_only(config, args.device, out)
        print(report.table([result]))
        print(f"\nJSON: {result['path']}")
        return 0
    result = run(config, args.device, out)
    print(report.table([result]))
    print(f"\nJSON: {result['path']}")
    if not args.quick:
        from benchmarks import lora_memory

        if lora_memory.RESULTS.exists():  # measured by --lora-memory (two full-size checkpoints, ~20 min)
            print("\n" + lora_memory.text(json.loads(lora_memory.RESULTS.read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
