"""The forecast stage's command-line contract: hpo-train, hpo-evaluate, hpo-forecast on the bundled real data.

Small models keep this quick: the load of one subsystem (LightGBM only, trained on 2022 with the last 60 days as
validation) and the wind and solar of the 2023 balance (trained to 2023-07-01, the last 45 days as validation);
the full-size figures are in benchmarks/forecast.py and benchmarks/renewables.py.
"""
import json, subprocess, sys
from pathlib import Path
import pandas as pd
import pytest

from hpo.etl import default_data_dir

LOAD = default_data_dir()/'ons'/'curva_carga'
FILES = [str(LOAD/'CURVA_CARGA_2022.csv'), str(LOAD/'CURVA_CARGA_2023.csv')]

def run(*args, cwd=None):
    return subprocess.run(list(args), capture_output=True, text=True, cwd=cwd)

@pytest.fixture(scope='module')
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp('model')
    r = run('hpo-train', '--train-end', '2023-01-01', '--train-start', '2022-01-15', '--val-days', '60', '--epochs', '0',
            '--subsystems', 'N', '--targets', 'load', '--out', str(d/'m'), cwd=d)
    assert r.returncode == 0, r.stderr
    assert 'saved' in r.stdout
    return d/'m'

def test_train_writes_model_folder(model):
    names = {p.name for p in model.iterdir()}
    assert {'preprocess.joblib', 'lightgbm.joblib', 'calibration.json', 'metadata.json'} <= names
    meta = json.loads((model/'metadata.json').read_text())
    assert meta['train_end'].startswith('2023-01-01') and len(meta['fingerprint']) == 64

def test_evaluate_json_contract(model, tmp_path):
    out = tmp_path/'eval.json'
    r = run('hpo-evaluate', '--model', str(model), '--load-files', *FILES, '--start', '2023-03-01', '--end', '2023-03-31',
            '--horizons', '1,24', '--json', str(out))
    assert r.returncode == 0, r.stderr
    rep = json.loads(out.read_text())
    assert set(rep['baselines']) == {'persistence', 'seasonal_naive_24', 'seasonal_naive_168', 'lightgbm'}
    cell = rep['model']['N']['24']
    assert {'mape', 'rmse_mw', 'mae_mw', 'coverage_p10_p90'} <= set(cell)
    assert set(rep['model']['N']) == {'1', '24'}
    assert cell['n_hours'] >= 700                                   # March 2023, every hour with a known load
    assert cell['rmse_mw'] >= cell['mae_mw'] > 0
    # the model beats persistence an hour ahead and "same hour yesterday" a day ahead, on the same hours
    assert rep['model']['N']['1']['mape'] < rep['baselines']['persistence']['N']['1']['mape']
    assert rep['model']['N']['24']['mape'] < rep['baselines']['seasonal_naive_24']['N']['24']['mape']

def test_forecast_next_24h(model, tmp_path):
    out = tmp_path/'f.csv'
    r = run('hpo-forecast', '--model', str(model), '--history', FILES[1], '--out', str(out))
    assert r.returncode == 0, r.stderr
    f = pd.read_csv(out)
    assert list(f.columns) == ['origin', 'timestamp', 'series', 'subsystem', 'horizon', 'p10_mw', 'p50_mw', 'p90_mw']
    assert set(f.series) == {'load'}
    assert len(f) == 24 and (f.p10_mw <= f.p50_mw).all() and (f.p50_mw <= f.p90_mw).all()
    assert f.timestamp.iloc[0] == '2024-01-01 03:00:00+00:00'      # the hour after the last one of 2023 (local 23:00)

@pytest.mark.parametrize('args,message', [
    (['--start', '2023-03-01', '--end', '2023-03-31', '--horizons', '0,24'], "bad --horizons value '0,24'"),
    (['--start', 'March', '--end', '2023-03-31'], "bad --start value 'March'"),
    (['--start', '2030-01-01', '--end', '2030-01-31'], 'no hour to evaluate'),
])
def test_evaluate_bad_input_one_line(model, args, message):
    r = run('hpo-evaluate', '--model', str(model), '--load-files', *FILES, *args)
    assert r.returncode == 2 and 'Traceback' not in r.stderr
    assert r.stderr.startswith('hpo-evaluate: error: ') and message in r.stderr and len(r.stderr.strip().splitlines()) == 1

def test_bad_model_folder_and_bad_file(tmp_path):
    r = run('hpo-forecast', '--model', str(tmp_path), '--history', FILES[1])
    assert r.returncode == 2 and 'missing model file' in r.stderr and 'Traceback' not in r.stderr
    bad = tmp_path/'CURVA_CARGA_2023.csv'
    bad.write_text('id_subsistema;nom_subsistema;din_instante;val_cargaenergiahomwmed\nSE;SUDESTE;2023-01-01 00:00:00;abc\n')
    r = run('hpo-train', '--data', str(bad), '--train-end', '2023-01-01')
    assert r.returncode == 2 and 'Traceback' not in r.stderr
    assert 'line 2' in r.stderr and 'val_cargaenergiahomwmed' in r.stderr

def test_forecast_module_is_light():
    code = "import sys, hpo.forecast; print(sorted({'tensorflow', 'keras'} & set(sys.modules)))"
    r = run(sys.executable, '-c', code)
    assert r.returncode == 0 and r.stdout.strip() == '[]', r.stdout + r.stderr

def test_tune_command_exists():
    r = run('hpo-tune', '--help')
    assert r.returncode == 0 and '--trials' in r.stdout, r.stdout + r.stderr   # exported (it once sat in a non-exported cell)

def test_train_records_band_method(model):
    meta = json.loads((model/'metadata.json').read_text())
    cal = json.loads((model/'calibration.json').read_text())
    assert cal['band_method'] in ('fixed', 'adaptive') and cal['band_method'] == meta['band_method']
    assert set(meta['band_check']['N']) == {'fixed', 'adaptive'}    # chosen on the validation period, both measured

def test_forecast_load_files_joins_files(model, tmp_path):
    "`--load-files` is the load input's name in every command (`--history` its older one here); several ONS files are joined."
    one, two = tmp_path/'one.csv', tmp_path/'two.csv'
    assert run('hpo-forecast', '--model', str(model), '--load-files', FILES[1], '--out', str(one)).returncode == 0
    r = run('hpo-forecast', '--model', str(model), '--load-files', FILES[0], FILES[1], '--out', str(two))
    assert r.returncode == 0, r.stderr
    a, b = pd.read_csv(one), pd.read_csv(two)
    assert a.timestamp.tolist() == b.timestamp.tolist() and len(a) == 24
    assert (a.p50_mw - b.p50_mw).abs().max() < 1e-6      # the P50 reads only the input window before the origin


BALANCE = default_data_dir()/'ons'/'balanco_energia_subsistema'/'BALANCO_ENERGIA_SUBSISTEMA_2023.csv'

@pytest.fixture(scope='module')
def renewables_model(tmp_path_factory):
    d = tmp_path_factory.mktemp('ren')
    r = run('hpo-train', '--train-end', '2023-07-01', '--train-start', '2023-01-01', '--val-days', '45', '--targets', 'wind,solar',
            '--out', str(d/'m'), cwd=d)
    assert r.returncode == 0, r.stderr
    assert 'wind and solar' in r.stdout
    return d/'m'

def test_train_renewables_alone(renewables_model):
    assert not (renewables_model/'metadata.json').exists()            # --targets wind,solar: no load model
    meta = json.loads((renewables_model/'renewables'/'renewables.json').read_text())['meta']
    assert {'wind/NE', 'wind/S', 'solar/NE', 'solar/SE'} <= set(meta['series']) and meta['horizons'] == list(range(1, 25))

def test_evaluate_renewables_json_and_predictions(renewables_model, tmp_path):
    out, pred = tmp_path/'eval.json', tmp_path/'pred.csv'
    r = run('hpo-evaluate', '--model', str(renewables_model), '--balance-files', str(BALANCE), '--start', '2023-07-01',
            '--end', '2023-09-19', '--horizons', '1,6,24', '--json', str(out), '--predictions', str(pred))
    assert r.returncode == 0, r.stderr
    rep = json.loads(out.read_text())
    assert 'model' not in rep and {'wind', 'solar', 'renewable_baselines'} <= set(rep)
    cell = rep['wind']['NE']['6']
    assert {'mae_mw', 'coverage_p10_p90', 'rmse_mw', 'n_hours'} <= set(cell) and cell['n_hours'] > 1500
    assert set(rep['wind']['NE']) == {'1', '6', '24'}
    assert rep['wind']['NE']['1']['mae_mw'] < rep['renewable_baselines']['persistence']['wind']['NE']['1']['mae_mw'] * 1.05
    # every forecast scored is written, and the scores can be recomputed from it
    p = pd.read_csv(pred)
    assert list(p.columns) == ['origin', 'timestamp', 'series', 'subsystem', 'horizon', 'p10_mw', 'p50_mw', 'p90_mw']
    assert set(p.series) == {'wind', 'solar'} and p.origin.str.endswith('+00:00').all()
    from hpo.renewables import read_balance_files
    obs = read_balance_files([BALANCE]).assign(timestamp=lambda b: b.timestamp.map(pd.Timestamp.isoformat))
    g = p[(p.series == 'wind') & (p.subsystem == 'NE') & (p.horizon == 6)].merge(obs[['timestamp', 'subsystem', 'wind_mw']], on=['timestamp', 'subsystem'])
    assert abs((g.p50_mw - g.wind_mw).abs().mean() - cell['mae_mw']) < 1e-6
    assert abs(((g.wind_mw >= g.p10_mw) & (g.wind_mw <= g.p90_mw)).mean() - cell['coverage_p10_p90']) < 1e-9

def test_evaluate_refuses_parts_the_model_lacks(model, renewables_model):
    r = run('hpo-evaluate', '--model', str(model), '--balance-files', str(BALANCE), '--start', '2023-07-01', '--end', '2023-07-31')
    assert r.returncode == 2 and 'no wind and solar part' in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run('hpo-evaluate', '--model', str(renewables_model), '--load-files', *FILES, '--start', '2023-07-01', '--end', '2023-07-31')
    assert r.returncode == 2 and 'no load part' in r.stderr and 'Traceback' not in r.stderr

def test_train_bad_targets_one_line(tmp_path):
    r = run('hpo-train', '--train-end', '2023-07-01', '--targets', 'wind,hydro', '--out', str(tmp_path/'m'))
    assert r.returncode == 2 and "bad --targets value 'wind,hydro'" in r.stderr and 'Traceback' not in r.stderr

def test_forecast_wind_and_solar(renewables_model, tmp_path):
    out = tmp_path/'f.csv'
    r = run('hpo-forecast', '--model', str(renewables_model), '--balance-files', str(BALANCE), '--out', str(out))
    assert r.returncode == 0, r.stderr
    f = pd.read_csv(out)
    assert set(f.series) == {'wind', 'solar'} and f.horizon.max() == 24 and f.origin.nunique() == 1
    assert (f.p10_mw <= f.p50_mw).all() and (f.p50_mw <= f.p90_mw).all()

def test_forecast_band_is_the_one_evaluated(renewables_model, tmp_path):
    # the band is corrected online after training (the load's step), the same way in hpo-forecast and in hpo-evaluate:
    # a forecast from a history cut at an origin has the band hpo-evaluate scores at that origin
    assert json.loads((renewables_model/'renewables'/'renewables.json').read_text())['online_gamma'] > 0
    lines = BALANCE.read_text().splitlines()
    cut = tmp_path/'BALANCO_ENERGIA_SUBSISTEMA_2023.csv'
    cut.write_text('\n'.join([lines[0]] + [l for l in lines[1:] if l.split(';')[2] < '2023-08-15 10:00:00']) + '\n')
    f, pred = tmp_path/'f.csv', tmp_path/'pred.csv'
    r = run('hpo-forecast', '--model', str(renewables_model), '--balance-files', str(cut), '--out', str(f))
    assert r.returncode == 0, r.stderr
    r = run('hpo-evaluate', '--model', str(renewables_model), '--balance-files', str(BALANCE), '--start', '2023-07-01',
            '--end', '2023-09-19', '--horizons', '1,6,24', '--predictions', str(pred))
    assert r.returncode == 0, r.stderr
    f, p = (pd.read_csv(x).assign(origin=lambda d: pd.to_datetime(d.origin, utc=True)) for x in (f, pred))
    both = f.merge(p, on=['origin', 'series', 'subsystem', 'horizon'], suffixes=('', '_eval'))
    assert set(both.horizon) == {1, 6, 24} and len(both) == 3 * len(f.groupby(['series', 'subsystem']))   # h1, h6, h24 of every series
    for c in ('p10_mw', 'p50_mw', 'p90_mw'): assert (both[c] - both[c + '_eval']).abs().max() < 1e-3, c
    assert (both.p90_mw - both.p10_mw).gt(0).all()


# the day-ahead load model: every hour of tomorrow issued at noon today, scored next to ONS's own forecast
REFERENCE = default_data_dir()/'ons'/'carga_programada'/'CARGA_PROGRAMADA_2023.csv'
WEATHER = [str(p) for p in sorted((default_data_dir()/'inmet'/'automaticas').glob('INMET_SE_SP_A701_*.CSV'))]   # São Paulo 2022, 2023

@pytest.fixture(scope='module')
def day_ahead_model(tmp_path_factory):
    d = tmp_path_factory.mktemp('dayahead')
    r = run('hpo-train', '--train-end', '2023-01-01', '--train-start', '2022-01-15', '--val-days', '60', '--subsystems', 'N,SE',
            '--targets', 'day_ahead', '--out', str(d/'m'), cwd=d)
    assert r.returncode == 0, r.stderr
    assert 'day-ahead load' in r.stdout and 'temperature observed in SE' in r.stdout   # the bundled São Paulo station
    return d/'m'

def test_day_ahead_is_a_default_target():
    from hpo.netload import parse_targets
    assert 'day_ahead' in parse_targets(None) and parse_targets('load') == ['load']

def test_day_ahead_evaluate_json_and_predictions(day_ahead_model, tmp_path):
    out, pred = tmp_path/'e.json', tmp_path/'p.csv'
    r = run('hpo-evaluate', '--model', str(day_ahead_model), '--load-files', *FILES, '--day-ahead', '--start', '2023-03-01',
            '--end', '2023-03-31', '--reference-files', str(REFERENCE), '--json', str(out), '--predictions', str(pred),
            '--weather-files', *WEATHER)
    assert r.returncode == 0, r.stderr
    assert 'note:' not in r.stderr
    rep = json.loads(out.read_text())
    assert set(rep['day_ahead']) == set(rep['ons_programada']) == {'N', 'SE'}
    for sub in ('N', 'SE'):
        da, ons = rep['day_ahead'][sub], rep['ons_programada'][sub]
        assert {'mape', 'mae_mw', 'coverage_p10_p90', 'n_hours'} <= set(da) and {'mape', 'n_hours'} <= set(ons)
        assert da['n_hours'] == ons['n_hours'] and 700 <= da['n_hours'] <= 744     # the same hours of March
        assert 0 < da['mape'] < 8 and 0 < ons['mape'] < 8 and 0.4 < da['coverage_p10_p90'] <= 1
    p = pd.read_csv(pred)
    assert list(p.columns) == ['origin', 'timestamp', 'series', 'subsystem', 'horizon', 'p10_mw', 'p50_mw', 'p90_mw']
    assert len(p) == sum(rep['day_ahead'][s]['n_hours'] for s in ('N', 'SE')) and set(p.series) == {'load'}
    assert p.origin.str.endswith('T14:00:00+00:00').all()                       # 11:00 local, the last hour known at noon
    assert p.horizon.between(13, 36).all() and p.timestamp.str.contains('T').all()
    o, t = pd.to_datetime(p.origin, utc=True), pd.to_datetime(p.timestamp, utc=True)
    assert ((t - o) == pd.to_timedelta(p.horizon, 'h')).all()
    assert ((p.p10_mw <= p.p50_mw) & (p.p50_mw <= p.p90_mw)).all()

def test_day_ahead_forecast_reads_nothing_after_noon(day_ahead_model, tmp_path):
    "`hpo-forecast --day-ahead D` reads the load up to 11:00 local of D−1 only: later rows of the files change nothing."
    lines = Path(FILES[1]).read_text().splitlines()
    when = lambda l: l.split(';')[2]
    cut, odd = tmp_path/'cut'/'CURVA_CARGA_2023.csv', tmp_path/'odd'/'CURVA_CARGA_2023.csv'
    for p in (cut, odd): p.parent.mkdir()
    cut.write_text('\n'.join([lines[0]] + [l for l in lines[1:] if when(l) <= '2023-06-14 11:00:00']) + '\n')
    odd.write_text('\n'.join([lines[0]] + [l if when(l) <= '2023-06-14 11:00:00' else ';'.join(l.split(';')[:3] + ['1.0']) for l in lines[1:]]) + '\n')
    wl = Path(WEATHER[1]).read_text(encoding='latin-1').splitlines()   # São Paulo 2023: the temperature after the origin changed too
    hot = tmp_path/'hot'/Path(WEATHER[1]).name; hot.parent.mkdir()
    late = lambda l: l[:10].replace('/', '-') + ' ' + l[11:13] > '2023-06-14 14'   # date;hour UTC
    hot.write_text('\n'.join(l if not (l[:4].isdigit() and late(l)) else ';'.join(l.split(';')[:7] + ['39,0'] + l.split(';')[8:]) for l in wl) + '\n', encoding='latin-1')
    outs = []
    for i, (f, w) in enumerate(((FILES[1], WEATHER[1]), (cut, WEATHER[1]), (odd, hot))):
        outs.append(tmp_path/f'f{i}.csv')
        r = run('hpo-forecast', '--model', str(day_ahead_model), '--load-files', FILES[0], str(f), '--day-ahead', '2023-06-15', '--out', str(outs[-1]),
                '--weather-files', WEATHER[0], str(w))
        assert r.returncode == 0, r.stderr
    a, b, c = (pd.read_csv(x) for x in outs)
    assert len(a) == 48 and a.subsystem.value_counts().to_dict() == {'N': 24, 'SE': 24}
    assert (pd.to_datetime(a.timestamp, utc=True).dt.tz_convert('America/Sao_Paulo').dt.date.astype(str) == '2023-06-15').all()
    for x in (b, c): assert (a[['p10_mw', 'p50_mw', 'p90_mw']] - x[['p10_mw', 'p50_mw', 'p90_mw']]).abs().max().max() < 1e-6
    ev = tmp_path/'p.csv'   # the same forecast hpo-evaluate --day-ahead scores for that day
    assert run('hpo-evaluate', '--model', str(day_ahead_model), '--load-files', *FILES, '--day-ahead', '--start', '2023-06-15',
               '--end', '2023-06-15', '--predictions', str(ev), '--weather-files', *WEATHER).returncode == 0
    e = pd.read_csv(ev).merge(a.assign(timestamp=pd.to_datetime(a.timestamp, utc=True).map(pd.Timestamp.isoformat)), on=['subsystem', 'timestamp'])
    assert len(e) >= 40 and (e.p50_mw_x - e.p50_mw_y).abs().max() < 1e-6

def test_day_ahead_bad_input_one_line(model, day_ahead_model):
    r = run('hpo-evaluate', '--model', str(model), '--load-files', *FILES, '--day-ahead', '--start', '2023-03-01', '--end', '2023-03-31')
    assert r.returncode == 2 and 'no day-ahead part' in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run('hpo-forecast', '--model', str(day_ahead_model), '--load-files', FILES[1], '--day-ahead', '2024-03-01')
    assert r.returncode == 2 and 'before the origin' in r.stderr and 'Traceback' not in r.stderr
    r = run('hpo-forecast', '--model', str(day_ahead_model), '--load-files', FILES[1], '--day-ahead', 'tomorrow')
    assert r.returncode == 2 and "bad --day-ahead value 'tomorrow'" in r.stderr
