"""The pack as the Comfy Registry sees it: `comfy node validate` (comfy-cli) passes with no
warning, pyproject.toml carries every field of the registry's specification, the tree keeps the
registry's security rules, and requirements.txt lists only what ComfyUI does not install."""
from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.comfy_host import read_env

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
# What comfy-cli accepts (comfy_cli/registry/config_parser.py) and the spec lists.
OS_PREFIXES = ("Microsoft", "POSIX", "MacOS", "OS Independent")
ACCELERATORS = {"GPU :: NVIDIA CUDA", "GPU :: AMD ROCm", "GPU :: Intel Arc", "NPU :: Huawei Ascend", "GPU :: Apple Metal"}
VERSION_SPEC = re.compile(r"^(?:(==|>=|<=|!=|~=|>|<|<>|=)\s*)?\d+\.\d+\.\d+(?:-[a-zA-Z0-9]+)?$")
# Modules ComfyUI itself provides to a custom node (its own source tree).
HOST_MODULES = {"comfy", "comfy_api", "comfy_extras", "comfy_execution", "folder_paths", "nodes", "node_helpers",
                "latent_preview", "server", "execution", "utils", "app", "comfy_config"}
# Import name -> distribution name where they differ.
DISTRIBUTION_OF = {"PIL": "pillow", "yaml": "pyyaml", "cv2": "opencv-python", "sklearn": "scikit-learn"}


def tracked_python_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "*.py"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    return [REPO / line for line in out.splitlines() if (REPO / line).exists()]


def requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0].strip().lower().replace("_", "-"))
    return names


def comfy_cli_env(home: Path) -> dict:
    """Non-interactive and without telemetry: no consent prompt, nothing written outside `home`."""
    return {**os.environ, "CI": "true", "DO_NOT_TRACK": "1", "HOME": str(home), "NO_COLOR": "1",
            "COLUMNS": "200", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def test_comfy_node_validate_passes_without_any_warning(tmp_path):
    comfy = Path(sys.executable).parent / "comfy"
    assert comfy.exists(), "comfy-cli is missing from the venv: run scripts/provision.sh (it installs scripts/requirements-dev.txt)"
    run = subprocess.run([str(comfy), "node", "validate"], cwd=REPO, env=comfy_cli_env(tmp_path),
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "All validation checks passed successfully" in output, output
    assert "Warning" not in output and "Security warnings" not in output, output


def test_pyproject_has_every_field_the_registry_specification_asks_for():
    project, comfy = PYPROJECT["project"], PYPROJECT["tool"]["comfy"]
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]*(?:[-_.][A-Za-z0-9]+)*", project["name"]) and len(project["name"]) < 100
    assert "comfyui" not in project["name"].lower()  # the spec's advice for node ids
    assert re.fullmatch(r"\d+\.\d+\.\d+", project["version"])
    assert len(project["description"]) > 20
    assert (REPO / project["license"]["file"]).is_file()
    assert re.fullmatch(r">=\s*3\.\d+", project["requires-python"])
    operating_systems = [c.removeprefix("Operating System :: ") for c in project["classifiers"] if c.startswith("Operating System :: ")]
    accelerators = [c.removeprefix("Environment :: ") for c in project["classifiers"] if c.startswith("Environment ::")]
    assert operating_systems and all(o.startswith(OS_PREFIXES) for o in operating_systems)
    assert accelerators and set(accelerators) <= ACCELERATORS
    urls = project["urls"]
    repo_url = urls["Repository"]
    owner_repo = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+)", repo_url)
    assert owner_repo, repo_url
    assert urls["Documentation"].startswith(repo_url) and urls["Bug Tracker"] == urls["Issues"] == f"{repo_url}/issues"
    assert comfy["PublisherId"] and comfy["DisplayName"]
    assert all(VERSION_SPEC.match(part.strip()) for part in comfy["requires-comfyui"].split(","))
    for folder in comfy.get("includes", []):
        assert (REPO / folder).exists(), folder
    assert "web" not in comfy  # WEB_DIRECTORY serves web/ already; a `web` key would load the scripts twice


def test_the_icon_is_a_square_image_in_the_repository_at_the_raw_url_pyproject_names():
    icon_url = PYPROJECT["tool"]["comfy"]["Icon"]
    owner, repo = PYPROJECT["project"]["urls"]["Repository"].rstrip("/").split("/")[-2:]
    match = re.fullmatch(rf"https://raw\.githubusercontent\.com/{owner}/{repo}/main/(.+\.svg)", icon_url)
    assert match, icon_url
    svg = ET.parse(REPO / match.group(1)).getroot()
    width, height = float(svg.get("width")), float(svg.get("height"))
    assert width == height <= 400  # the registry shows icons square, at most 400 px
    assert svg.get("viewBox") and not any(el.tag.endswith("script") or el.tag.endswith("image") for el in svg.iter())


def test_comfyui_reads_the_pyproject_with_its_own_parser():
    env = read_env()
    code = ("import sys, json;"
            " from comfy_config import config_parser as p;"
            " c = p.extract_node_configuration(sys.argv[2]);"
            " print(json.dumps([c.project.name, c.tool_comfy.display_name, c.tool_comfy.icon, c.tool_comfy.web,"
            " c.project.supported_comfyui_version, c.project.urls.repository, c.project.urls.issues]))")
    run = subprocess.run([sys.executable, "-c", code, env["COMFYUI_ROOT"], str(REPO)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": env["COMFYUI_ROOT"]})  # ComfyUI's own parser, from its root
    assert run.returncode == 0, run.stderr
    name, display, icon, web, requires, repository, issues = json.loads(run.stdout.strip().splitlines()[-1])
    comfy, urls = PYPROJECT["tool"]["comfy"], PYPROJECT["project"]["urls"]
    assert (name, display, icon, web) == (PYPROJECT["project"]["name"], comfy["DisplayName"], comfy["Icon"], None)
    assert (requires, repository, issues) == (comfy["requires-comfyui"], urls["Repository"], urls["Issues"])


def test_requirements_list_only_what_comfyui_does_not_install_and_match_pyproject():
    host_requirements = requirement_names(Path(read_env()["COMFYUI_ROOT"]) / "requirements.txt")
    ours = requirement_names(REPO / "requirements.txt")
    assert ours and not ours & host_requirements, ours & host_requirements
    assert ours == {re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0].lower() for d in PYPROJECT["project"]["dependencies"]}


def test_every_third_party_import_of_the_pack_is_installed_by_comfyui_or_by_requirements_txt():
    host_requirements = requirement_names(Path(read_env()["COMFYUI_ROOT"]) / "requirements.txt")
    allowed = host_requirements | requirement_names(REPO / "requirements.txt")
    own = {p.stem for p in REPO.glob("*/*.py")} | {p.name for p in REPO.iterdir() if p.is_dir()}
    runtime = [REPO / "__init__.py", *(REPO / "nodes").rglob("*.py"), *(REPO / "sde_core").rglob("*.py"), *(REPO / "demo").glob("*.py")]
    missing = set()
    for path in runtime:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in HOST_MODULES or top in own:
                    continue
                if DISTRIBUTION_OF.get(top, top).lower().replace("_", "-") not in allowed:
                    missing.add(f"{path.relative_to(REPO)}: {top}")
    assert not missing, sorted(missing)


def test_the_tree_keeps_the_registry_security_rules_no_eval_exec_or_one_line_statements():
    # The rules `comfy node validate` runs (there only as warnings), here as a failure.
    run = subprocess.run([sys.executable, "-m", "ruff", "check", ".", "-q", "--select", "S102,S307,E702", "--no-cache"],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr


def pip_calls(tree: ast.AST) -> list[int]:
    """Lines that run pip: `import pip`, a subprocess/os call whose arguments name pip."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if any(m.split(".")[0] == "pip" for m in mods):
                lines.append(node.lineno)
        elif isinstance(node, ast.Call):
            func = ast.unparse(node.func)
            if func.split(".")[0] in {"subprocess", "os"} or func in {"run", "call", "check_call", "check_output", "Popen", "system"}:
                words = [s.value for s in ast.walk(node) if isinstance(s, ast.Constant) and isinstance(s.value, str)]
                if any(re.search(r"(^|[\s/])pip3?(\s|$)|ensurepip", w) for w in words):
                    lines.append(node.lineno)
    return lines


def test_no_python_file_of_the_pack_installs_packages_at_run_time():
    found = {str(p.relative_to(REPO)): pip_calls(ast.parse(p.read_text())) for p in tracked_python_files()}
    found = {k: v for k, v in found.items() if v}
    assert not found, found
    assert pip_calls(ast.parse("import subprocess\nsubprocess.check_call(['python', '-m', 'pip', 'install', 'x'])\n")) == [2]
