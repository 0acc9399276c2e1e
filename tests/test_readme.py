"""The README's analyst example runs exactly as written."""

from __future__ import annotations

import re

from conftest import ROOT


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_readme_analyst_example_runs(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    blocks = python_blocks((ROOT / "README.md").read_text())
    assert blocks, "the README has no python example"
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "occupancy" not in printed and "difference" in printed and "inpatient" in printed
    assert len(namespace["beds"]["point"].unique()) == 3
