"""`hpo-run`, the main job, as a user runs it: the installed console script in a fresh working directory.

A tiny setting keeps it to well under a minute (three trees per horizon, one LSTM epoch on every 13th origin, two
subsystems, which are then dispatched as islands, tomorrow's day-ahead forecast with them); the notebook `05_run` runs
the four-subsystem SIN path.
"""
import json, subprocess
from pathlib import Path
import numpy as np, pandas as pd
import pytest

SUBS = ['N', 'S']
FORECAST_COLUMNS = ['origin', 'timestamp', 'series', 'subsystem', 'horizon', 'p10_mw', 'p50_mw', 'p90_mw']

@pytest.fixture(scope='module')
def run(tmp_path_factory):
    "One tiny run, from an empty working directory, with the default output folder."
    cwd = tmp_path_factory.mktemp('cwd')
    r = subprocess.run(['hpo-run', '--trees', '3', '--epochs', '1', '--stride', '13', '--subsystems', ','.join(SUBS)],
                       cwd=cwd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r, cwd/'hpo-run-out'

def test_progress_and_summary(run):
    r, _ = run
    for i, stage in enumerate(['etl', 'train', 'evaluate', 'register', 'forecast', 'dispatch', 'backcast', 'report'], 1):
        assert f'[{i}/8] {stage}' in r.stdout
    assert 'forecast error on the test period 2023-07-01' in r.stdout and 'seasonal_naive_168' in r.stdout
    assert 'dispatch (islands' in r.stdout and 'Traceback' not in r.stderr

def test_files(run):
    _, out = run
    expected = {'report.html', 'summary.json', 'integrated.parquet', 'integrated_quality.csv', 'integrated_flags.csv', 'metrics.csv',
                'forecast.csv', 'dispatch.csv', 'balance.csv', 'ramp_alerts.csv', 'backcast.csv', 'figures', 'registry', 'series_metrics.csv',
                'day_ahead.csv', 'day_ahead_dispatch.csv', 'day_ahead_balance.csv'}
    assert expected <= {p.name for p in out.iterdir()}
    assert not [p for p in out.rglob('*.part')]   # no temporary file left behind
    assert {p.name for p in (out/'figures').iterdir()} == {'skill.png', 'forecast.png', 'dispatch.png', 'backcast.png', 'day_ahead.png'}

def test_report_is_self_contained(run):
    _, out = run
    page = (out/'report.html').read_text()
    assert page.startswith('<!DOCTYPE html>') and page.count('<table') >= 8
    assert page.count('src="data:image/png;base64,iVBORw0KGgo') == 5   # the five figures, embedded
    for heading in ['Forecast error on the test period', 'The next 24 hours', 'Hydro dispatch of the forecast day', 'Tomorrow, as the operator plans it', 'Backcast', 'Model version']:
        assert heading in page
    assert 'seasonal_naive_24' in page and 'persistence' in page

def test_forecast_covers_the_next_day(run):
    _, out = run
    f = pd.read_csv(out/'forecast.csv', parse_dates=['origin', 'timestamp'])
    assert list(f.columns) == FORECAST_COLUMNS and sorted(f.subsystem.unique()) == SUBS
    assert set(f.series) == {'load', 'wind', 'solar', 'net_load'}
    t = pd.read_parquet(out/'integrated.parquet')
    t = t[t.subsystem.isin(SUBS)]
    # the origin: the last hour every input knows (the bundled balance ends in September 2023, the load in December)
    last = min(t[t[c].notna()].groupby('subsystem').timestamp.max().min() for c in ('load_mw', 'wind_mw', 'solar_mw'))
    assert (f.origin == last).all()
    for _, g in f.groupby(['series', 'subsystem']):
        assert list(g.timestamp) == list(pd.date_range(last + pd.Timedelta(hours=1), periods=24, freq='h'))
    assert (f.p10_mw <= f.p50_mw).all() and (f.p50_mw <= f.p90_mw).all() and f[f.series == 'load'].p50_mw.between(1e3, 1e5).all()
    n, parts = f[f.series == 'net_load'].set_index(['subsystem', 'timestamp']), f[f.series != 'net_load'].pivot_table(index=['subsystem', 'timestamp'], columns='series', values='p50_mw')
    assert np.allclose(n.p50_mw, (parts['load'] - parts['wind'] - parts['solar']).reindex(n.index))   # net load = load − wind − solar

def test_metrics(run):
    _, out = run
    m = pd.read_csv(out/'metrics.csv')
    assert list(m.columns[:7]) == ['model', 'subsystem', 'horizon', 'mape', 'rmse_mw', 'mae_mw', 'n_hours']
    assert {'model', 'lightgbm', 'lstm', 'persistence', 'seasonal_naive_24', 'seasonal_naive_168'} <= set(m.model)
    assert set(m.horizon) == set(range(1, 25)) and (m.n_hours > 4000).all()   # July–December 2023, every target hour

def test_dispatch(run):
    _, out = run
    d, b = pd.read_csv(out/'dispatch.csv'), pd.read_csv(out/'balance.csv')
    from hpo.dispatch import DISPATCH_COLUMNS, BALANCE_COLUMNS
    assert list(d.columns) == DISPATCH_COLUMNS and list(b.columns) == BALANCE_COLUMNS
    assert set(d.subsystem) == set(SUBS) and d.timestamp.nunique() == 24
    assert (d[['generation_mw', 'turbined_m3s', 'spilled_m3s', 'volume_hm3']] >= -1e-6).all().all()
    f = pd.read_csv(out/'forecast.csv')
    f = f[f.series == 'load']
    both = b.merge(f, on=['timestamp', 'subsystem'])
    assert len(both) == 48 and np.allclose(both['load'], both['p50_mw'])   # the dispatch serves the forecast
    w = pd.read_csv(out/'forecast.csv').query("series == 'wind'")[['timestamp', 'subsystem', 'p50_mw']]
    bw = b.merge(w, on=['timestamp', 'subsystem'])
    assert len(bw) == 48 and np.allclose(bw['wind'], bw['p50_mw'])      # with the forecast wind
    assert np.allclose(b.load, b.hydro + b.thermal + b.wind + b.solar - b.curtailment + b.deficit, atol=1e-3)

def test_day_ahead(run):
    "Tomorrow as the operator plans it: every local hour of the latest day issued by the last observed hour, from the load known then, dispatched."
    r, out = run
    from hpo.dayahead import issue_origin, target_hours
    from hpo.etl import LOCAL_TZ
    from hpo.dispatch import DISPATCH_COLUMNS, BALANCE_COLUMNS
    a = json.loads((out/'summary.json').read_text())['day_ahead']
    day = a['day_local']
    f = pd.read_csv(out/'day_ahead.csv', parse_dates=['origin', 'timestamp'])
    assert list(f.columns) == FORECAST_COLUMNS and sorted(f.subsystem.unique()) == SUBS and set(f.series) == {'load'}
    for _, g in f.groupby('subsystem'):
        assert list(g.timestamp) == list(target_hours(day)) and len(g) == 24             # the 24 local hours of the day
        assert list(g.timestamp.dt.tz_convert(LOCAL_TZ).dt.hour) == list(range(24))
    assert (f.p10_mw <= f.p50_mw).all() and (f.p50_mw <= f.p90_mw).all() and f.p50_mw.between(1e3, 1e5).all()
    t = pd.read_parquet(out/'integrated.parquet')
    last = t[t.subsystem.isin(SUBS) & t.load_mw.notna()].groupby('subsystem').timestamp.max().min()   # the last observed hour of the load
    o = issue_origin(day)
    assert (f.origin == o).all() and o <= last < issue_origin(pd.Timestamp(day) + pd.Timedelta(days=1))   # issued by then, and the latest such day
    assert (f.horizon == (f.timestamp - o) // pd.Timedelta(hours=1)).all() and f.horizon.min() == 13
    assert pd.Timestamp(a['origin_utc']) == o and pd.Timestamp(a['issued_utc']) == o + pd.Timedelta(hours=1) and a['hours'] == 24
    d, b = pd.read_csv(out/'day_ahead_dispatch.csv'), pd.read_csv(out/'day_ahead_balance.csv', parse_dates=['timestamp'])
    assert list(d.columns) == DISPATCH_COLUMNS and list(b.columns) == BALANCE_COLUMNS and set(d.subsystem) == set(SUBS)
    both = b.merge(f, on=['timestamp', 'subsystem'])
    assert len(both) == 48 and np.allclose(both['load'], both['p50_mw'])        # the dispatch serves the day-ahead P50
    assert np.allclose(b.load, b.hydro + b.thermal + b.wind + b.solar - b.curtailment + b.deficit, atol=1e-3)   # the balance closes
    k = a['dispatch']
    assert (k['scope'], k['status'], k['hours']) == ('islands', 'optimal', 24) and k['renewables'].startswith('mean of ')
    assert k['water_balance_residual_hm3'] <= 1e-6 and k['bound_excess'] <= 1e-6 and k['deficit_mwh'] <= 1e-6
    assert f"tomorrow as the operator plans it: {day} issued" in r.stdout

def test_summary_json(run):
    _, out = run
    s = json.loads((out/'summary.json').read_text())
    assert set(s) >= {'hpo_run', 'etl', 'periods', 'forecast_error', 'forecast', 'dispatch', 'day_ahead', 'backcast', 'model', 'files'}
    assert s['forecast_error']['test_period'].startswith('2023-07-01')
    assert set(s['forecast_error']['mape']['model']) == {'mape_h1', 'mape_h24', 'mape_h1_24'}
    d = s['dispatch']
    assert (d['scope'], d['status'], d['hours']) == ('islands', 'optimal', 24)
    assert d['renewables'].startswith('forecast P50 of the wind and solar models')       # not a month-mean guess
    assert {'wind', 'solar', 'net_load'} <= set(s['series_error']) and s['series_error']['solar']['model_h1'] < s['series_error']['solar']['persistence_h1']
    assert d['water_balance_residual_hm3'] <= 1e-6 and d['bound_excess'] <= 1e-6 and d['deficit_mwh'] <= 1e-6
    bc = s['backcast']
    assert bc['status'] == 'optimal' and bc['in_test_period'] and bc['water_balance_residual_hm3'] <= 1e-6
    assert 0.5 < bc['energy']['SIN']['hydro_model_over_actual'] < 2
    assert set(s['hpo_run']['seconds']) >= {'etl', 'train', 'evaluate', 'dispatch', 'report', 'total'}

def test_registry_has_the_promoted_version(run):
    _, out = run
    from hpo.mlops.registry import Registry
    reg = Registry(out/'registry')
    assert reg.versions() == ['v1'] and reg.serving == 'v1'
    m = reg.verify('v1')   # checksums and library versions
    assert m['subsystems'] == SUBS and 'test_mape' in m['metrics']
    assert m['targets'] == ['load', 'wind', 'solar']       # the wind and solar models are versioned with the load's
    assert reg.load_model('v1').day_ahead.subsystems == SUBS   # and the day-ahead load model
    assert json.loads((out/'summary.json').read_text())['model']['version'] == 'v1'

def test_missing_data_folder_is_one_line(tmp_path):
    r = subprocess.run(['hpo-run', '--data', str(tmp_path/'nowhere'), '--out', str(tmp_path/'out')], capture_output=True, text=True)
    assert r.returncode == 2 and 'Traceback' not in r.stderr
    assert r.stderr.strip() == f"hpo-run: error: {tmp_path/'nowhere'}: the data folder does not exist (expected a folder laid out like ../shared/data)"

def test_bad_option_is_one_line(tmp_path):
    r = subprocess.run(['hpo-run', '--stride', '12', '--out', str(tmp_path/'out')], capture_output=True, text=True)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and 'shares a factor with 24' in r.stderr
