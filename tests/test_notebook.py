"""The evaluation notebook: stored without outputs, and run through on the demo store."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "evaluation.ipynb"

# The demo store only, at two cutoffs, without the ranker, with one EASE lambda and two days of
# replay: the same cells as a full run, in about a minute.
QUICK = """
STORES = ["demo"]
RANKER = False
EASE_GRID = (500.0,)
REPLAY_DAYS = 2
"""
TWO_CUTOFFS = 'SHIPPED["demo"]["cutoffs"] = ["2025-05-15", "2025-06-01"]'


def test_the_notebook_is_stored_without_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
    assert [cell for cell in code if "parameters" in cell.metadata.get("tags", [])] == [code[0]]


def test_the_notebook_runs_on_the_demo_store() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    parameters = notebook.cells.index(next(c for c in notebook.cells if c.cell_type == "code"))
    notebook.cells.insert(parameters + 1, nbformat.v4.new_code_cell(QUICK))
    stores = notebook.cells.index(next(c for c in notebook.cells if "SHIPPED = {" in c.source))
    notebook.cells.insert(stores + 1, nbformat.v4.new_code_cell(TWO_CUTOFFS))
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": ROOT}}
    ).execute()

    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    text = "\n".join(out.get("text", "") for out in outputs if out.output_type == "stream")
    assert "demo 2025-05-15:" in text and "demo 2025-06-01:" in text
    assert "served by default: collaborative" in text
    tables = "\n".join(
        out.data.get("text/html", "") + out.data.get("text/markdown", "")
        for out in outputs
        if out.output_type in ("execute_result", "display_data")
    )
    for row in ("collaborative", "hybrid", "ease", "bm25 item-knn", "EASE lambda=100"):
        assert row in tables
    # the comparison, the hybrid's weight and the replay's days, one chart each on one store
    charts = [out for out in outputs if "image/png" in out.get("data", {})]
    assert len(charts) == 3
