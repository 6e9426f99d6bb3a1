"""The README and docs/ pages against the code and each other.

- Troubleshooting: every error text the README quotes (a code span starting with an input name and a
  colon, e.g. `mask: nothing is editable ...`) is what the pack really raises: each is matched against
  the messages the checks raise here, with `...` standing for the parts that vary (sizes, figures). And
  every one of those messages is quoted, so a reworded error fails until the README follows.
- Links: every relative link or image in README.md and docs/*.md points to a file that exists, and an
  `#anchor` to a heading of that file.
"""
import re
import types
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
PAGES = [README, *sorted((REPO / "docs").glob("*.md"))]


def section(text: str, heading: str) -> str:
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def quoted_errors(text: str) -> list[str]:
    return [s for s in re.findall(r"`([^`]+)`", text) if re.match(r"^[a-z_/]+: ", s)]


def pattern(quote: str) -> re.Pattern:
    return re.compile(".*?".join(re.escape(piece) for piece in quote.split("...")), re.S)


def raised(call) -> str:
    with pytest.raises(ValueError) as err:
        call()
    return str(err.value)


@pytest.fixture
def messages(host, monkeypatch):
    import comfy.model_management as mm

    validate, masks, limits = (host.module(m) for m in ("sde_core.validate", "nodes.masks", "nodes.limits"))
    monkeypatch.setattr(mm, "get_free_memory", lambda device=None, *a, **k: 1024)  # 1 KiB free
    region = torch.zeros(1, 1, 8, 8)
    region[..., 4:, 4:] = 1
    model = types.SimpleNamespace(model=types.SimpleNamespace(memory_usage_factor=1.0), load_device=None,
                                  model_size=lambda: 0)
    return {
        # an unpainted Load Image mask (64x64, all zero) on a 512x512 SD1.5 picture
        "nothing editable": raised(lambda: masks.mask_for(torch.zeros(1, 64, 64), (1, 4, 64, 64), 8)),
        "point outside": raised(lambda: validate.check_points_in_mask([[1.0, 1.0]], [[5.0, 5.0]], region)),
        "mask size": raised(lambda: masks.mask_for(torch.ones(1, 100, 100), (1, 4, 32, 32), 8)),
        "recording memory": raised(lambda: limits.check_memory((1, 4, 64, 64), 120)),
        "training memory": raised(lambda: limits.check_training_memory(model, (1, 4, 64, 64), 1000)),
    }


def test_the_troubleshooting_error_texts_are_the_ones_the_code_raises(messages):
    quotes = quoted_errors(section(README.read_text(), "Troubleshooting"))
    assert quotes, "README's Troubleshooting quotes no error text"
    for quote in quotes:
        assert any(pattern(quote).fullmatch(m) for m in messages.values()), (
            f"README quotes an error the pack does not raise (reworded?): {quote!r}\nraised: "
            + "\n".join(messages.values()))
    for what, message in messages.items():
        assert any(pattern(q).fullmatch(message) for q in quotes), (
            f"README's Troubleshooting does not quote the {what} error as raised: {message!r}")


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(REPO)) for p in PAGES])
def test_every_relative_link_points_to_a_file_that_exists(page):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    for link in links:
        if re.match(r"^[a-z]+:", link):  # https:, mailto:
            continue
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        assert path.exists(), f"{page.relative_to(REPO)} links to {link!r}, which does not exist"
        if anchor and path.suffix == ".md":
            assert anchor in anchors(path), f"{page.relative_to(REPO)} links to {link!r}: no such heading"


def test_the_readme_is_a_users_readme_that_links_the_lab_pages():
    text = README.read_text()
    assert len(text.splitlines()) <= 260, "README.md grew back into a notebook: move details into docs/"
    assert "`make test` is the test command" in text.split("\n## ")[0], "the test command is said near the top"
    for page in ("findings", "performance", "fullsize", "reliability", "development", "nodes"):
        assert f"](docs/{page}.md)" in text, f"README.md does not link docs/{page}.md"
