"""`hpo-dispatch` as a user runs it: the installed console script on a small real load table, its three output files,
and one-line errors for bad input. Also: importing `hpo.dispatch` stays light (no TensorFlow, Keras or scikit-learn)."""
import json, shutil, subprocess, sys, sysconfig
from pathlib import Path
import pandas as pd
import pytest

from hpo.etl import read_ons_balance, default_data_dir, SUBSYSTEMS

DISPATCH = ['timestamp', 'plant', 'subsystem', 'generation_mw', 'turbined_m3s', 'spilled_m3s', 'volume_hm3']
BALANCE = ['timestamp', 'subsystem', 'load', 'hydro', 'thermal', 'wind', 'solar', 'deficit', 'curtailment', 'marginal_cost']
SUMMARY = ['status', 'objective', 'deficit_mwh', 'spill_hm3', 'n_plants', 'n_variables', 'n_constraints', 'build_s', 'solve_s', 'solver']

@pytest.fixture(scope='module')
def load_csv(tmp_path_factory):
    "Six hours of the real 2023 ONS balance (load, wind, solar per subsystem) as a load table."
    bal = read_ons_balance(default_data_dir()/'ons'/'balanco_energia_subsistema'/'BALANCO_ENERGIA_SUBSISTEMA_2023.csv')
    t = bal[bal.subsystem.isin(SUBSYSTEMS) & (bal.timestamp >= '2023-03-06 03:00+00:00')].sort_values(['timestamp', 'subsystem'])
    t = t.rename(columns={'balance_load_mw': 'load_mw'})[['timestamp', 'subsystem', 'load_mw', 'wind_mw', 'solar_mw']].head(4 * 6)
    p = tmp_path_factory.mktemp('load')/'load.csv'; t.to_csv(p, index=False)
    return p

# the console script installed beside this Python (not a version manager's shim, which may print its own messages)
SCRIPT = next((str(p) for p in [Path(sysconfig.get_path('scripts'))/'hpo-dispatch'] if p.exists()), None) or shutil.which('hpo-dispatch')

def run(*args, cwd=None):
    return subprocess.run([SCRIPT, *map(str, args)], capture_output=True, text=True, cwd=cwd)

def test_import_is_light():
    code = "import sys, hpo.dispatch; heavy = {'tensorflow', 'keras', 'sklearn'} & set(sys.modules); print(sorted(heavy))"
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == '[]', r.stdout

@pytest.mark.parametrize('solver', ['highs', 'cbc'])
def test_outputs(load_csv, tmp_path, solver):
    out = tmp_path/'out'
    r = run('--load-files', load_csv, '--horizon', 6, '--plants', 12, '--solver', solver, '--out', out, cwd=tmp_path)   # --load: its older name, used below
    assert r.returncode == 0, r.stderr
    d, b = pd.read_csv(out/'dispatch.csv'), pd.read_csv(out/'balance.csv')
    s = json.loads((out/'summary.json').read_text())
    assert list(d.columns) == DISPATCH and len(d) == 12 * 6
    assert list(b.columns)[:len(BALANCE)] == BALANCE and len(b) == 4 * 6
    assert set(SUMMARY) <= set(s) and s['solver'] == solver and s['n_plants'] == 12
    assert s['status'] in ('optimal', 'deficit') and s['n_variables'] > 12 * 6 * 4 and s['n_constraints'] > 0
    # each subsystem and hour balances, and every output is within its physical range
    lhs = b.hydro + b.thermal + b.wind + b.solar + b.interchange + b.deficit - b.curtailment
    assert (lhs - b.load).abs().max() < 1e-4
    assert (d[['generation_mw', 'turbined_m3s', 'spilled_m3s', 'volume_hm3']] >= -1e-7).all().all()
    assert abs(b.deficit.sum() - s['deficit_mwh']) < 1e-6

def test_solvers_agree(load_csv, tmp_path):
    objs = {}
    for solver in ('highs', 'cbc'):
        assert run('--load', load_csv, '--horizon', 4, '--plants', 8, '--solver', solver, '--out', tmp_path/solver).returncode == 0
        objs[solver] = json.loads((tmp_path/solver/'summary.json').read_text())['objective']
    # same optimum to solver tolerance (CBC reads the model from a text file and stops at its own 1e-7 feasibility
    # tolerance, which on volumes worth ~1e5 R$/hm³ moves the objective by a few R$ in ~1e7)
    assert abs(objs['highs'] - objs['cbc']) <= 1e-5 * abs(objs['highs'])

@pytest.mark.parametrize('args,message', [
    (['--horizon', 48], 'longer than the load table'),
    (['--horizon', 6, '--plants', 'some'], "bad --plants value 'some'"),
    (['--horizon', 6, '--solver', 'gurobi'], "unknown solver 'gurobi'"),
])
def test_bad_input_is_one_line(load_csv, tmp_path, args, message):
    r = run('--load', load_csv, *args, '--out', tmp_path/'o')
    assert r.returncode == 2 and 'Traceback' not in r.stderr
    assert r.stderr.count('\n') == 1 and r.stderr.startswith('hpo-dispatch: error: ') and message in r.stderr, r.stderr

def test_bad_table_names_line_and_column(load_csv, tmp_path):
    bad = tmp_path/'bad.csv'
    lines = load_csv.read_text().splitlines()
    f = lines[3].split(','); f[2] = '-5'; lines[3] = ','.join(f)   # a negative load on line 4
    bad.write_text('\n'.join(lines) + '\n')
    r = run('--load', bad, '--horizon', 2, '--out', tmp_path/'o')
    assert r.returncode == 2 and r.stderr.strip() == f"hpo-dispatch: error: {bad}, line 4, column 'load_mw': negative value '-5' (expected a number ≥ 0)"
    r = run('--load', tmp_path/'missing.csv', '--horizon', 2, '--out', tmp_path/'o')
    assert r.returncode == 2 and 'file not found' in r.stderr
