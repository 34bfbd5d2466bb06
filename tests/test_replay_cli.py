"""`hpo-replay` as a user runs it: the installed console script on two real days of the bundled data, its output files,
and one-line errors (exit status 2, no traceback) for a bad balance file, a day without data and bad options."""
import json, shutil, subprocess, sysconfig
from pathlib import Path
import pandas as pd
import pytest

COLUMNS = ['timestamp', 'subsystem', 'hydro_mw', 'thermal_mw', 'net_export_mw', 'ons_hydro_mw', 'ons_thermal_mw', 'ons_net_export_mw']
METRICS = {'days', 'hydro_energy_ratio_median', 'hydro_energy_abs_dev_median', 'hydro_hourly_nmae_pct', 'hydro_shape_corr_median',
           'thermal_energy_ratio_median', 'net_export_mae_mw'}
SCRIPT = next((str(p) for p in [Path(sysconfig.get_path('scripts'))/'hpo-replay'] if p.exists()), None) or shutil.which('hpo-replay')

def run(*args, cwd=None):
    return subprocess.run([SCRIPT, *map(str, args)], capture_output=True, text=True, cwd=cwd)

def test_outputs(tmp_path):
    out = tmp_path/'out'
    r = run('--start', '2023-05-01', '--end', '2023-05-03', '--every', 2, '--out', out)
    assert r.returncode == 0, r.stderr
    rows = pd.read_csv(out/'replay.csv')
    assert rows.columns.tolist() == COLUMNS and len(rows) == 2 * 24 * 4
    assert rows['timestamp'].iloc[0] == '2023-05-01T03:00:00Z'          # the local day, from local midnight, stamped in UTC
    m = json.loads((out/'replay_metrics.json').read_text())
    assert set(m) == {'N', 'NE', 'S', 'SE', 'SIN'} and all(set(v) == METRICS for v in m.values()) and m['SIN']['days'] == 2
    days = pd.read_csv(out/'replay_days.csv')
    assert days['state'].tolist() == ['ONS stored energy of 2023-04-30', 'ONS stored energy of 2023-05-02']
    assert days['groups'].tolist() == ['AGRINT 2023-05: groups 1, 2, 4, 14'] * 2      # the deck's interchange groups of the month
    assert set(days['status']) <= {'optimal', 'deficit'}                               # minimum outflows held to what the river gives
    assert (out/'replay_hydro.png').stat().st_size > 10_000 and (out/'replay_stored_energy.png').stat().st_size > 10_000
    assert days['exchange'].str.startswith('ONS net export, hour by hour, of the 3 days before').all()   # the envelope of the days before
    ons = days['NE_ons_stored_energy_end_pct']; assert ons.notna().all() and days['NE_stored_energy_end_pct'].between(0, 100).all()

def one_line_error(r, *words):
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert 'Traceback' not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    for w in words: assert w in r.stderr, r.stderr

def test_day_without_data(tmp_path):
    one_line_error(run('--start', '2023-10-01', '--out', tmp_path/'o'), 'BALANCO_ENERGIA_SUBSISTEMA_2023.csv', 'no balance of N at 2023-10-01 03:00 UTC',
                   'expected 24 hourly rows per subsystem')

def test_bad_balance_file(tmp_path):
    bad = tmp_path/'BALANCO_ENERGIA_SUBSISTEMA_2023.csv'
    bad.write_text('id_subsistena;nom_subsistema;din_instante;val_gerhidraulica;val_gertermica;val_gereolica;val_gersolar;val_carga;val_intercambio\n'
                   'N;NORTE;2023-05-01 00:00:00;abc;1;1;1;1;1\n')
    one_line_error(run('--balance-files', bad, '--start', '2023-05-01', '--out', tmp_path/'o'), str(bad), 'line 2', 'val_gerhidraulica', 'not a number')

@pytest.mark.parametrize('args, words', [
    (['--start', '2023-02-30'], ['bad start value']),
    (['--start', '2023-05-02', '--end', '2023-05-01'], ['before --start']),
    (['--start', '2023-05-01', '--every', '0'], ['--every 0']),
    (['--start', '2023-05-01', '--thermal', 'cheap'], ["bad --thermal value 'cheap'"]),
    (['--start', '2023-05-01', '--targets', 'exact'], ["bad --targets value 'exact'"]),
    (['--start', '2023-05-01', '--groups', 'all'], ["bad --groups value 'all'"]),
    (['--start', '2023-05-01', '--spill', 'free'], ["bad --spill value 'free'"]),
    (['--start', '2023-05-01', '--min-outflow', 'none'], ["bad --min-outflow value 'none'"]),
])
def test_bad_options(tmp_path, args, words):
    one_line_error(run(*args, '--out', tmp_path/'o'), *words)
