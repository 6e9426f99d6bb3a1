"""Translations (locales/en, locales/zh) and help pages (web/docs) against the node definitions
ComfyUI serves for the pack: every node, input and output has an entry in both languages, the
English file is exactly what scripts/build_locales.py generates, and ComfyUI's own i18n loader
serves both. The browser side is tests/test_help_and_locales_browser.py."""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LOCALES = REPO / "locales"
LANGUAGES = ("en", "zh")
CJK = re.compile(r"[\u4e00-\u9fff]")


def load_generator():
    spec = importlib.util.spec_from_file_location("build_locales", REPO / "scripts" / "build_locales.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generator = load_generator()


@pytest.fixture(scope="module")
def served(host):
    info = generator.pack_object_info(host.nodes)
    assert "SDEDragAllInOne" in info and "SDEDragPoints" in info
    return info


def node_defs(language: str) -> dict:
    return json.loads((LOCALES / language / "nodeDefs.json").read_text(encoding="utf-8"))


def messages(data, path=""):
    if isinstance(data, dict):
        for key, value in data.items():
            yield from messages(value, f"{path}.{key}" if path else key)
    else:
        yield path, data


def test_the_english_locale_is_what_the_generator_writes_from_the_served_nodes(served):
    expected = generator.render(generator.english_node_defs(served))
    assert (LOCALES / "en" / "nodeDefs.json").read_text(encoding="utf-8") == expected, \
        "locales/en/nodeDefs.json is out of date: run .venv/bin/python scripts/build_locales.py"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_node_input_and_output_has_an_entry_and_nothing_else(served, language):
    defs = node_defs(language)
    assert set(defs) == set(served), (set(served) ^ set(defs))
    for node_id, info in served.items():
        entry = defs[node_id]
        assert entry["display_name"].strip(), node_id
        assert bool(entry.get("description")) == bool(info.get("description")), node_id
        inputs = entry.get("inputs", {})
        assert list(inputs) == generator.input_names(info), node_id  # same names, same order
        for name, item in inputs.items():
            assert item["name"].strip(), (node_id, name)
            has_tooltip = bool(generator.input_options(info, name).get("tooltip"))
            assert bool(item.get("tooltip")) == has_tooltip, (node_id, name)
        outputs = entry.get("outputs", {})
        served_outputs = info.get("output_name") or info.get("output") or []
        assert list(outputs) == [str(i) for i in range(len(served_outputs))], node_id
        for index, item in outputs.items():
            assert item["name"].strip() and item.get("tooltip"), (node_id, index)


def test_the_chinese_texts_are_written_in_chinese():
    english = dict(messages(node_defs("en")))
    not_chinese = []
    for path, text in messages(node_defs("zh")):
        kind = path.rsplit(".", 1)[-1]
        if kind in ("display_name", "description") or (kind == "tooltip" and not re.fullmatch(r"[\w.]+", english[path])):
            if not CJK.search(text):
                not_chinese.append(path)
    assert not not_chinese, not_chinese


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_a_literal_for_vue_i18n(language):
    # The frontend compiles messages with vue-i18n: a bare { } @ | would be read as syntax.
    for path, text in messages(node_defs(language)):
        bare = generator.I18N_LITERAL.sub("", text)
        assert not generator.I18N_SPECIAL.search(bare), (path, text)
    assert generator.i18n_unescape(generator.i18n_escape("a {b} @c | d")) == "a {b} @c | d"


def test_comfyui_serves_both_locales_through_its_i18n_loader(host, served):
    from app.custom_node_manager import CustomNodeManager

    translations = CustomNodeManager().build_translations()
    for language in LANGUAGES:
        served_defs = translations[language]["nodeDefs"]
        assert set(served) <= set(served_defs), language
    assert translations["zh"]["nodeDefs"]["SDEDragAllInOne"]["display_name"] == "SDE 拖拽"
    assert translations["en"]["nodeDefs"]["SDEDragAllInOne"]["display_name"] == served["SDEDragAllInOne"]["display_name"]


# The frontend fetches a custom node's help from /extensions/<pack folder>/docs/<node id>.md
# (after <node id>/<locale>.md): the docs/ folder of the directory ComfyUI serves for the pack.
HELP_SECTIONS = ("## Inputs", "## Outputs", "## Paper defaults", "## Example")


@pytest.fixture(scope="module")
def docs_dir(host):
    import nodes

    web = nodes.EXTENSION_WEB_DIRS.get(generator.PACK_FOLDER)
    assert web, f"ComfyUI serves no web directory for {generator.PACK_FOLDER}"
    return Path(web) / "docs"


def test_every_node_has_a_help_page_where_the_frontend_looks_and_no_page_is_orphaned(served, docs_dir):
    pages = {p.stem for p in docs_dir.glob("*.md")}
    assert pages == set(served), pages ^ set(served)
    for node_id, info in served.items():
        text = (docs_dir / f"{node_id}.md").read_text(encoding="utf-8")
        assert text.splitlines()[0] == f"# {info['display_name']}", node_id
        assert all(section in text for section in HELP_SECTIONS), node_id


def test_each_help_page_names_every_input_and_output_of_its_node(served, docs_dir):
    for node_id, info in served.items():
        text = (docs_dir / f"{node_id}.md").read_text(encoding="utf-8")
        inputs, outputs = text.split("## Inputs", 1)[1].split("## Outputs", 1)
        outputs = outputs.split("## Paper defaults", 1)[0]
        missing = [name for name in generator.input_names(info) if f"`{name}`" not in inputs]
        missing += [name for name in (info.get("output_name") or info["output"]) if f"`{name}`" not in outputs]
        assert not missing, (node_id, missing)
