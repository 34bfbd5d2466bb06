"""`hpo-dispatch --dessem-case` as a user runs it: the installed console script on the bundled DESSEM case, its three
output files, a one-line error for a broken case, and the console script's ordinary options kept."""
import json, shutil, subprocess, sysconfig
from pathlib import Path
import pandas as pd

from hpo.etl import default_data_dir

CASE = default_data_dir()/'cepel'/'dessem_2025_10_11'
HOURLY = ['timestamp', 'subsystem', 'hydro_mw', 'thermal_mw', 'marginal_cost_rs_mwh', 'dessem_hydro_mw', 'dessem_thermal_mw', 'dessem_cmo_rs_mwh']
FIGURES = ['hydro_energy_ratio', 'thermal_energy_ratio', 'hydro_profile_corr', 'cmo_mean_ratio']
SCRIPT = next((str(p) for p in [Path(sysconfig.get_path('scripts'))/'hpo-dispatch'] if p.exists()), None) or shutil.which('hpo-dispatch')

def run(*args, cwd=None):
    return subprocess.run([SCRIPT, *map(str, args)], capture_output=True, text=True, cwd=cwd)

def test_case(tmp_path):
    out = tmp_path/'out'
    r = run('--dessem-case', CASE, '--out', out)
    assert r.returncode == 0, r.stderr
    h = pd.read_csv(out/'dessem_hourly.csv')
    assert list(h.columns) == HOURLY and len(h) == 4 * 168
    assert h['timestamp'].iloc[0] == '2025-10-11T03:00:00Z'   # midnight in Brasília, in UTC (ISO 8601, as every file HPO writes)
    c = json.loads((out/'dessem_comparison.json').read_text())
    for s in ['N', 'NE', 'S', 'SE', 'SIN']: assert set(FIGURES) <= set(c[s]), c[s]
    assert c['run']['status'] == 'optimal' and c['run']['seconds'] < 20, c['run']
    assert c['run']['head_iterations'] == 1, c['run']
    # the floors the full model meets on this case (measured: SIN hydro 0.980, thermal 1.06, mean CMO 0.96, N 1.09, NE 1.09)
    assert abs(c['SIN']['hydro_energy_ratio'] - 1) <= 0.03 and abs(c['SIN']['thermal_energy_ratio'] - 1) <= 0.15, c['SIN']
    assert abs(c['SIN']['cmo_mean_ratio'] - 1) <= 0.20, c['SIN']
    assert all(c[s]['hydro_profile_corr'] >= 0.8 for s in ['N', 'NE', 'S', 'SE']), {s: c[s]['hydro_profile_corr'] for s in ['N', 'NE', 'S', 'SE']}
    assert all(abs(c[s]['hydro_energy_ratio'] - 1) <= 0.10 for s in ['N', 'NE']), {s: c[s]['hydro_energy_ratio'] for s in ['N', 'NE', 'S', 'SE']}
    assert (out/'dessem_comparison.png').stat().st_size > 10_000
    assert 'SIN hydro' in r.stdout

def test_broken_case(tmp_path):
    case = tmp_path/'case'; shutil.copytree(CASE, case); (case/'hidr.dat').unlink()
    r = run('--dessem_case', case, '--out', tmp_path/'out')
    assert r.returncode == 2 and r.stderr.count('\n') == 1 and 'hidr.dat' in r.stderr and 'Traceback' not in r.stderr, r.stderr
    (case/'pdo_sist.dat').write_text('not a report\n')
    shutil.copy(CASE/'hidr.dat', case)
    r = run('--dessem-case', case, '--out', tmp_path/'out')
    assert r.returncode == 2 and 'pdo_sist.dat' in r.stderr and 'Traceback' not in r.stderr, r.stderr

def test_ordinary_options_kept():
    r = run('--help')
    assert r.returncode == 0 and '--load-files' in r.stdout and '--water-value' in r.stdout
    r = run('--horizon', 3)
    assert r.returncode == 2 and 'no load table given' in r.stderr, r.stderr
