"""Every notebook runs top to bottom, as a student or analyst would open it."""

from __future__ import annotations

import base64

import nbclient
import nbformat
import pytest
from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path, monkeypatch):
    # importing Streamlit (the app's tests, in this process) sets MPLBACKEND=Agg, which the kernel would inherit:
    # its figures would then never be shown
    monkeypatch.delenv("MPLBACKEND", raising=False)
    notebook = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    images = [output["data"]["image/png"] for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.get("outputs", []) if "image/png" in output.get("data", {})]
    for index, image in enumerate(images):   # kept for a person to look at
        (tmp_path / f"{path.stem}_{index}.png").write_bytes(base64.b64decode(image))
    assert images, "a notebook should show its finding as a figure"
