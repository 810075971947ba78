"""Execute every analyst notebook in ``notebooks/`` from a clean state (nbclient).

Each notebook runs in a fresh kernel of this interpreter (a kernelspec written to a
temporary folder points at ``sys.executable``), with ``notebooks/`` as the working
directory, and must finish without an error in under two minutes. Committed
notebooks must carry no outputs (they are stripped before committing).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
SHARED_DATA = ROOT.parent / "shared" / "data"
#: notebooks that need ../shared/data; they say so and stop cleanly without it, and
#: the test checks that too (see test_real_data_notebook_without_data_ends_cleanly)
REAL_DATA = {"real_data.ipynb"}
TIME_LIMIT_S = 120


def _kernel_manager(tmp_path: Path) -> KernelManager:
    spec_dir = tmp_path / "kernels" / "koc-notebook-test"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "KOC Graph (test)",
                "language": "python",
            }
        )
    )
    ksm = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])
    return KernelManager(kernel_name="koc-notebook-test", kernel_spec_manager=ksm)


def run_notebook(path: Path, tmp_path: Path) -> nbformat.NotebookNode:
    """Execute ``path`` in a fresh kernel; raises nbclient's CellExecutionError on any error.

    The kernel inherits this process's environment.
    """
    nb = nbformat.read(path, as_version=4)
    km = _kernel_manager(tmp_path)
    client = NotebookClient(
        nb,
        km=km,
        timeout=TIME_LIMIT_S,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()
    return nb


def _repo_status() -> str:
    out = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all", "--", "notebooks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout


def test_notebooks_are_present() -> None:
    names = {p.name for p in NOTEBOOKS}
    assert {
        "koc_discovery.ipynb",
        "referral_commissions.ipynb",
        "role_views.ipynb",
        "real_data.ipynb",
    } <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_has_no_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: strip outputs before committing"
            assert cell.execution_count is None, f"{path.name}: strip execution counts"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_without_error(path: Path, tmp_path: Path) -> None:
    if path.name in REAL_DATA and not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent; the no-data path is tested separately")
    before = _repo_status()
    t0 = time.monotonic()
    nb = run_notebook(path, tmp_path)
    elapsed = time.monotonic() - t0
    assert elapsed < TIME_LIMIT_S, f"{path.name} took {elapsed:.0f} s"
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors
    images = sum(
        "image/png" in o.get("data", {})
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    assert images >= 2, f"{path.name} drew {images} figures"
    assert _repo_status() == before, "running the notebook left files in notebooks/"


@pytest.mark.slow
def test_real_data_notebook_without_data_ends_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KOC_SHARED_DATA", str(tmp_path / "absent"))
    nb = run_notebook(NOTEBOOK_DIR / "real_data.ipynb", tmp_path)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "Real data not found" in text
    assert not any(
        "image/png" in o.get("data", {})
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
