"""Prompt files: header, declared variables, strict rendering."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import PromptError
from rag.llm.prompts import PROMPTS_DIR, all_prompts, load_prompt, parse_prompt


def test_every_prompt_renders_with_its_declared_variables():
    prompts = all_prompts()
    assert {p.name for p in prompts} >= {
        "draft.system",
        "draft.user",
        "reask",
        "followup.system",
        "followup.user",
    }
    for prompt in prompts:
        values = {name: f"<<{name.upper()}>>" for name in prompt.variables}
        text = prompt.render(**values)
        assert prompt.version >= 1
        assert "{{" not in text and "{%" not in text, prompt.name
        for name in prompt.variables:
            assert f"<<{name.upper()}>>" in text, (prompt.name, name)


def test_missing_and_extra_variables_are_refused():
    prompt = load_prompt("draft.user")
    values = {name: "x" for name in prompt.variables}
    missing = dict(values)
    missing.pop("sources")
    with pytest.raises(PromptError, match="missing sources"):
        prompt.render(**missing)
    with pytest.raises(PromptError, match="unexpected patient_name"):
        prompt.render(**values, patient_name="x")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no header at all {{ x }}", "header block"),
        ("---\nname: p\nversion: 1\nvariables: []\n---\nHello {{ who }}\n", "undeclared variable"),
        ("---\nname: p\nversion: 1\nvariables: [who, unused]\n---\nHello {{ who }}\n", "never uses"),
        ("---\nname: p\nversion: one\nvariables: []\n---\nHello\n", "version"),
        ("---\nname: p\nversion: 1\nvariables: []\nauthor: me\n---\nHello\n", "unknown header key"),
        ("---\nname: p\nversion: 1\nvariables: [a]\n---\nHello {{ a \n", "syntax"),
    ],
)
def test_malformed_prompt_files_fail_to_load(text, message):
    with pytest.raises(PromptError, match=message):
        parse_prompt(text, Path("p.md"))


def test_file_name_must_match_the_header(tmp_path):
    (tmp_path / "a.md").write_text("---\nname: b\nversion: 1\nvariables: []\n---\nHi\n")
    with pytest.raises(PromptError, match="file name says 'a'"):
        load_prompt("a", tmp_path)
    with pytest.raises(PromptError, match="not found"):
        load_prompt("nope", tmp_path)


def test_prompts_folder_holds_only_prompt_files():
    assert sorted(p.suffix for p in PROMPTS_DIR.iterdir()) == [".md"] * len(list(PROMPTS_DIR.iterdir()))
