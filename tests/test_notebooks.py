"""Every notebook in nbs/ (and its folders, e.g. nbs/04_mlops/) is a test: its cells run top to bottom with nbdev's test runner, in its own process.

Cells flagged `slow` or `notest` (settings.ini `tst_flags`) are skipped; set HPO_NB_FLAGS="slow" to run the slow
cells too (they need ../shared/data and minutes of CPU).
"""
import os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT/'nbs').rglob('*.ipynb')
                   if not any(part.startswith(('_', '.')) for part in p.relative_to(ROOT/'nbs').parts))

@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[p.relative_to(ROOT/'nbs').with_suffix('').as_posix() for p in NOTEBOOKS])
def test_notebook(nb):
    flags = os.environ.get('HPO_NB_FLAGS', '')
    cmd = ['nbdev_test', '--path', str(nb), '--n_workers', '0'] + (['--flags', flags] if flags else [])
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, 'MPLBACKEND': 'Agg'})
    assert r.returncode == 0, f'{nb.name} failed:\n{r.stdout[-4000:]}\n{r.stderr[-8000:]}'

def test_notebooks_found():
    assert {'index', '01_etl', '04_mlops/00_overview', '04_mlops/01_registry'} <= {p.relative_to(ROOT/'nbs').with_suffix('').as_posix() for p in NOTEBOOKS}
