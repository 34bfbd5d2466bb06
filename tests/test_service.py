"""The MLOps stage's service contract, over real HTTP: `hpo-serve --registry DIR --host 127.0.0.1 --port N` is started
as a subprocess on a free port and every test talks to it with an HTTP client.

The model is small (North only, LightGBM only, 10 trees per horizon, trained on February–May 2023) so the module runs
in about a minute; the registry holds it three times (v1 serving, v2 healthy, v3 damaged after registration). A second
registry and server hold the same kind of model with the North's wind and solar forecasters (`NetLoadModel`): a
request without wind and solar gets them forecast from the service's data archive, and the response says so.
"""
import os
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')   # LightGBM's spinning OpenMP threads crawl on a busy machine
import json, shutil, socket, subprocess, sys, tempfile, time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import schemathesis
from hypothesis import given, settings, HealthCheck
from hypothesis.configuration import set_hypothesis_home_dir

from hpo.etl import default_data_dir, SUBSYSTEMS
from conftest import Server, free_port, ADMIN
from hpo.forecast import read_load_files, load_series, train
from hpo.renewables import read_balance_files, renewable_series
from hpo.netload import train_all
from hpo.mlops.registry import Registry, psi, STATE
from hpo.mlops.realtime import predict_and_optimize_realtime, predict_and_optimize_sin, subsystem_system, NO_RENEWABLES, forecast_renewable
from hpo.mlops.service import ModelService, PredictRequest
from hpo.dispatch import deck_system

set_hypothesis_home_dir(tempfile.mkdtemp(prefix='hpo-hypothesis-'))   # keep Hypothesis's caches out of the repository

LOAD = default_data_dir()/'ons'/'curva_carga'/'CURVA_CARGA_2023.csv'
BALANCE = default_data_dir()/'ons'/'balanco_energia_subsistema'/'BALANCO_ENERGIA_SUBSISTEMA_2023.csv'
ORIGIN = '2023-08-14 23:00'
SMALL = {'num_iterations': 10, 'num_leaves': 15, 'max_bin': 31}
NONE = {'wind': NO_RENEWABLES, 'solar': NO_RENEWABLES}

@pytest.fixture(scope='module')
def series():
    return load_series(read_load_files([LOAD]))

@pytest.fixture(scope='module')
def registry(tmp_path_factory, series):
    fc = train({'N': series['N']}, '2023-06-01', '2023-02-01', val_days=30, epochs=0, lgbm_params=SMALL, log=lambda *a, **k: None)
    reg = Registry(tmp_path_factory.mktemp('reg')/'models', create=True)
    assert [reg.register(fc, training=series) for _ in range(3)] == ['v1', 'v2', 'v3']
    reg.promote('v1')
    f = reg.path('v3')/'lightgbm.joblib'; b = bytearray(f.read_bytes()); b[len(b)//2] ^= 0xFF; f.write_bytes(bytes(b))
    return reg

@pytest.fixture(scope='module')
def server(registry, tmp_path_factory):
    s = Server(registry.root, tmp_path_factory.mktemp('log'))
    yield s
    s.stop()

@pytest.fixture(scope='module')
def client(server):
    with httpx.Client(base_url=server.url, timeout=30, headers=ADMIN) as c: yield c   # the admin's client: it may promote

@pytest.fixture(scope='module')
def ren():
    "The North's observed wind and solar (the bundled balance: January to 20 September 2023)."
    return {k: s for k, s in renewable_series(read_balance_files([BALANCE])).items() if k[1] == 'N'}

@pytest.fixture(scope='module')
def wind_registry(tmp_path_factory, series, ren):
    m = train_all({'N': series['N']}, ren, '2023-06-01', '2023-02-01', val_days=30, epochs=0, log=None, lgbm_params=SMALL)
    assert m.targets == ['load', 'wind', 'solar'] and m.renewables.horizons == list(range(1, 25))
    reg = Registry(tmp_path_factory.mktemp('wreg')/'models', create=True)
    reg.promote(reg.register(m, training=series))
    return reg

def served_client(registry, log_dir):
    "A client of a real `hpo-serve` on `registry`, stopped when the client is done."
    s = Server(registry.root, log_dir)
    try:
        with httpx.Client(base_url=s.url, timeout=60) as c: yield c
    finally: s.stop()

@pytest.fixture(scope='module')
def wind_client(wind_registry, tmp_path_factory):
    yield from served_client(wind_registry, tmp_path_factory.mktemp('wlog'))

@pytest.fixture(scope='module')
def sin_registry(tmp_path_factory, series):
    "A model of the four subsystems (small), for the whole SIN in one request."
    fc = train({s: series[s] for s in SUBSYSTEMS}, '2023-06-01', '2023-02-01', val_days=30, epochs=0, lgbm_params=SMALL, log=lambda *a, **k: None)
    reg = Registry(tmp_path_factory.mktemp('sreg')/'models', create=True)
    reg.promote(reg.register(fc, training=series))
    return reg

@pytest.fixture(scope='module')
def sin_client(sin_registry, tmp_path_factory):
    yield from served_client(sin_registry, tmp_path_factory.mktemp('slog'))

def values(h): return [None if np.isnan(x) else float(x) for x in h]

def sin_body(series, sub='SE', hours=337, origin=ORIGIN, scale=None, **extra):
    "A request with the four subsystems' load (`scale`: subsystem -> factor of its load)."
    hs = {s: series[s][:origin].iloc[-hours:] * (scale or {}).get(s, 1.0) for s in SUBSYSTEMS}
    return {'subsystem': sub, 'history_start': hs[sub].index[0].isoformat(), 'load_mw': values(hs[sub]),
            'other_loads_mw': {s: values(hs[s]) for s in SUBSYSTEMS if s != sub}, **extra}

def body(series, hours=337, origin=ORIGIN, **extra):
    h = series['N'][:origin].iloc[-hours:]
    return {'subsystem': 'N', 'history_start': h.index[0].isoformat(), 'load_mw': [None if np.isnan(x) else float(x) for x in h], **extra}

def test_import_does_not_load_tensorflow():
    code = "import sys, hpo.mlops.app, hpo.mlops.monitoring; print(sorted({'tensorflow', 'keras'} & set(sys.modules)))"
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == '[]', r.stdout

def test_health(client):
    h = client.get('/health').json()
    assert h['status'] == 'ok' and h['model_version'] == 'v1' and h['problems'] == []

def test_models_lists_versions_with_their_record(client, registry):
    m = client.get('/v1/models').json()
    assert m['serving'] == 'v1'
    assert [v['version'] for v in m['versions']] == ['v1', 'v2', 'v3']
    v1 = m['versions'][0]
    assert v1['serving'] and not m['versions'][1]['serving']
    assert len(v1['data_fingerprint']) == 64 and v1['subsystems'] == ['N'] and v1['targets'] == ['load'] and v1['renewables'] is None
    assert v1['train_end'].startswith('2023-06-01') and 'lightgbm' in v1['libraries']
    assert 0 < v1['metrics']['validation_mape']['N'] < 20
    assert pd.Timestamp(v1['registered']) <= pd.Timestamp.now('UTC')

def test_predict_and_optimize(client, series, registry):
    r = client.post('/v1/predict-and-optimize', json=body(series))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out['model_version'] == 'v1' and out['subsystem'] == 'N'
    fc = pd.DataFrame(out['forecast'])
    origin = pd.Timestamp(ORIGIN, tz='UTC')
    assert pd.Timestamp(out['origin']) == origin
    assert list(pd.to_datetime(fc.timestamp)) == list(pd.date_range(origin + pd.Timedelta(hours=1), periods=24, freq='h'))
    assert (fc.p10_mw <= fc.p50_mw).all() and (fc.p50_mw <= fc.p90_mw).all()
    assert 3_000 < fc.p50_mw.mean() < 15_000                         # the North's load is around 7–8 GW
    # the same answer as the library call on the same history and model
    direct = predict_and_optimize_realtime(registry.load('v1'), series['N'][:ORIGIN], 'N')
    assert np.allclose(fc.p50_mw, direct.forecast.p50_mw, rtol=1e-9)
    # only the North's plants, each hour; the island's balance closes
    north = subsystem_system(deck_system(None, None, 2023, 8), 'N').plants
    d = pd.DataFrame(out['dispatch'])
    assert set(d.plant) == set(north.plant) and len(d) == 24 * len(north)
    assert (d.generation_mw <= d.plant.map(north.set_index('plant').generation_max_mw) + 1e-6).all()
    b = pd.DataFrame(out['balance'])
    assert np.allclose(b.hydro + b.thermal + b.wind + b.solar + b.deficit - b.curtailment, b.load, atol=1e-3)
    assert np.allclose(b.load, fc.p50_mw)
    assert out['status'] in ('optimal', 'deficit') and out['message']
    # a version without wind and solar: taken as zero, and said so
    assert out['renewables_source'] == NONE and out['renewables'] == [] and set(b.wind) == set(b.solar) == {0.0}

def test_the_dispatch_is_the_library_s_solved_cold(client, series, registry):
    """Pins the dispatch: whatever the service does to answer fast (warm starts, cached systems, one thread), its result
    is the library's on the same forecast with every LP solved from scratch."""
    out = client.post('/v1/predict-and-optimize', json=body(series, origin='2023-08-20 23:00')).json()
    fc = pd.DataFrame(out['forecast']).assign(timestamp=lambda f: pd.to_datetime(f.timestamp))
    cold = predict_and_optimize_realtime(registry.load(out['model_version']), series['N'][:'2023-08-20 23:00'], 'N', load_forecast=fc, warm=None)
    assert out['summary']['objective'] == pytest.approx(cold.summary['objective'], rel=1e-7)
    b = pd.DataFrame(out['balance'])
    assert np.allclose(b.hydro, cold.balance.hydro, atol=1e-3) and np.allclose(b.thermal, cold.balance.thermal, atol=1e-3)
    assert out['status'] == cold.status and np.allclose(pd.DataFrame(out['dispatch']).generation_mw.sum(), cold.dispatch.generation_mw.sum(), atol=1e-2)

def test_wind_and_reservoir_state_change_the_dispatch(client, series):
    base = client.post('/v1/predict-and-optimize', json=body(series)).json()
    windy = client.post('/v1/predict-and-optimize', json=body(series, wind_mw=[800.0] * 24)).json()
    hydro = lambda o: sum(h['hydro'] + h['thermal'] for h in o['balance'])
    assert [h['wind'] for h in windy['balance']] == [800.0] * 24
    assert windy['renewables_source'] == {'wind': 'request', 'solar': NO_RENEWABLES}
    assert hydro(windy) < hydro(base)
    north = subsystem_system(deck_system(None, None, 2023, 8), 'N').plants.set_index('plant')
    plant = north.generation_max_mw.idxmax()
    def first_hour_volume(level):
        r = client.post('/v1/predict-and-optimize', json=body(series, reservoir_volumes_hm3={plant: float(north.at[plant, level])}))
        assert r.status_code == 200, r.text
        return [p for p in r.json()['dispatch'] if p['plant'] == plant][0]['volume_hm3']
    low, high = first_hour_volume('volume_min_hm3'), first_hour_volume('volume_max_hm3')
    assert north.at[plant, 'volume_min_hm3'] - 1e-6 <= low < high <= north.at[plant, 'volume_max_hm3'] + 1e-6

def test_history_with_gaps(client, series):
    b = body(series)
    b['load_mw'][100:103] = [None] * 3                                      # three unknown hours, as ONS data has
    r = client.post('/v1/predict-and-optimize', json=b)
    assert r.status_code == 200, r.text
    b['load_mw'][-1] = None                                                 # but the origin must be known
    r = client.post('/v1/predict-and-optimize', json=b)
    assert r.status_code == 422 and r.json()['detail'][0]['loc'] == ['body', 'load_mw']

@pytest.mark.parametrize('change,loc', [
    (dict(subsystem=None), ['body', 'subsystem']),
    (dict(subsystem='XX'), ['body', 'subsystem']),
    (dict(history_start='2023-08-01T00:00:00'), ['body', 'history_start']),     # no time zone
    (dict(history_start='not a date'), ['body', 'history_start']),
    (dict(load_mw=[7000.0, -1.0]), ['body', 'load_mw', 1]),
    (dict(load_mw=[7000.0] * 50), ['body', 'load_mw']),                          # shorter than the model's window
    (dict(wind_mw=[1.0] * 5), ['body', 'wind_mw']),
    (dict(reservoir_volumes_hm3={'NO SUCH PLANT': 1.0}), ['body', 'reservoir_volumes_hm3']),
    (dict(colour='red'), ['body', 'colour']),
])
def test_bad_requests_get_422_naming_the_field(client, series, change, loc):
    b = body(series)
    for k, v in change.items():
        if v is None: b.pop(k)
        else: b[k] = v
    r = client.post('/v1/predict-and-optimize', json=b)
    assert r.status_code == 422, r.text
    detail = r.json()['detail']
    assert any(d['loc'][:len(loc)] == loc and d['msg'] for d in detail), detail

def test_not_json_is_422(client):
    r = client.post('/v1/predict-and-optimize', content=b'{"subsystem": "N", ', headers={'content-type': 'application/json'})
    assert r.status_code == 422

def test_promote_and_roll_back_by_version(client, series):
    assert client.post('/v1/models/v2/promote').json() == {'model_version': 'v2', 'previous': 'v1'}
    assert client.get('/health').json()['model_version'] == 'v2'
    assert client.post('/v1/predict-and-optimize', json=body(series)).json()['model_version'] == 'v2'
    assert client.post('/v1/models/v1/promote').json() == {'model_version': 'v1', 'previous': 'v2'}
    assert client.get('/v1/models').json()['serving'] == 'v1'

def test_damaged_or_unknown_version_is_refused_and_the_old_one_keeps_serving(client, series):
    r = client.post('/v1/models/v3/promote')
    assert r.status_code == 409
    assert 'lightgbm.joblib: checksum mismatch' in r.json()['detail'][0]['msg']
    assert client.post('/v1/models/v42/promote').status_code == 404
    assert client.post('/v1/models/..%2Fx/promote').status_code in (404, 422)
    assert client.get('/health').json()['model_version'] == 'v1'
    r = client.post('/v1/predict-and-optimize', json=body(series))
    assert r.status_code == 200 and r.json()['model_version'] == 'v1'

def test_metrics(client, series):
    client.post('/v1/predict-and-optimize', json=body(series))
    text = client.get('/metrics').text
    ok = [l for l in text.splitlines() if l.startswith('hpo_requests_total{endpoint="/v1/predict-and-optimize",status="200"}')]
    assert ok and float(ok[0].split()[-1]) >= 1
    assert 'hpo_request_duration_seconds_bucket{endpoint="/v1/predict-and-optimize"' in text
    assert 'hpo_serving_model{version="v1"} 1.0' in text
    assert 'hpo_promotions_total{outcome="refused"}' in text

def test_monitoring_scores_earlier_forecasts_and_drift(client, series, registry):
    client.post('/v1/models/v1/promote').raise_for_status()                # a promotion starts the record afresh
    assert client.get('/v1/monitoring').json()['subsystems']['N']['scored_forecasts'] == 0
    first = client.post('/v1/predict-and-optimize', json=body(series, origin='2023-09-10 23:00')).json()
    second = client.post('/v1/predict-and-optimize', json=body(series, origin='2023-09-11 23:00')).json()
    fc = pd.DataFrame(first['forecast'])
    actual = series['N'].reindex(pd.to_datetime(fc.timestamp)).to_numpy()
    ok = np.isfinite(actual)
    expected = float(np.mean(np.abs(fc.p50_mw.to_numpy()[ok] - actual[ok]) / actual[ok] * 100))
    mon = client.get('/v1/monitoring').json()
    assert mon['model_version'] == 'v1'
    n = mon['subsystems']['N']
    assert n['scored_forecasts'] == ok.sum() == 24 and second['monitoring']['scored_forecasts'] == 24
    assert n['rolling_mape'] == pytest.approx(expected, rel=1e-9)
    history = series['N'][:'2023-09-11 23:00'].iloc[-337:].to_numpy()
    assert n['psi'] == pytest.approx(psi(registry.manifest('v1')['reference']['N'], history), rel=1e-9)
    assert n['drift'] in ('stable', 'moderate', 'drift')
    assert set(n['features']) == {'load_mw', 'load_vs_day_mean', 'change_1h_pct', 'change_24h_pct', 'change_168h_pct'}
    assert mon['subsystems']['NE'] == {'rolling_mape': None, 'scored_forecasts': 0, 'psi': None, 'drift': 'unknown', 'features': {}}
    text = client.get('/metrics').text
    line = [l for l in text.splitlines() if l.startswith('hpo_rolling_mape_pct{subsystem="N"}')]
    assert line and float(line[0].split()[-1]) == pytest.approx(expected, rel=1e-6)

def test_a_promotion_by_another_process_is_followed(client, registry):
    registry.promote('v2')                                                  # as hpo-retrain would, from outside the service
    assert client.get('/health').json()['model_version'] == 'v2'
    assert 'hpo_serving_model{version="v2"} 1.0' in client.get('/metrics').text
    client.post('/v1/models/v1/promote').raise_for_status()
    assert client.get('/health').json()['model_version'] == 'v1'

def test_openapi_and_docs(client):
    paths = client.get('/openapi.json').json()['paths']
    assert {'/health', '/v1/models', '/v1/models/{version}/promote', '/v1/predict-and-optimize', '/v1/monitoring', '/metrics'} <= set(paths)
    assert 'requestBody' in paths['/v1/predict-and-optimize']['post']
    schemas = client.get('/openapi.json').json()['components']['schemas']
    assert "'forecast'" in schemas['PredictResponse']['properties']['renewables_source']['description']
    assert schemas['PredictRequest']['properties']['wind_history_mw']['anyOf'][0]['minItems'] == 1080
    assert client.get('/docs').status_code == 200

def test_damaged_serving_version_falls_back_at_start(registry, tmp_path):
    reg = Registry(shutil.copytree(registry.root, tmp_path/'models'))
    reg.promote('v2')
    (reg.path('v2')/'calibration.json').write_text('{}')              # damaged after it was promoted
    s = Server(reg.root, tmp_path)
    try:
        h = httpx.get(s.url + '/health').json()
        assert h['status'] == 'degraded' and h['model_version'] == 'v1'
        assert 'calibration.json: checksum mismatch' in h['problems'][0]
    finally: s.stop()

def test_empty_registry_serves_503(tmp_path, series):
    reg = Registry(tmp_path/'empty', create=True)
    s = Server(reg.root, tmp_path)
    try:
        assert httpx.get(s.url + '/health').json()['status'] == 'no_model'
        assert httpx.post(s.url + '/v1/predict-and-optimize', json=body(series)).status_code == 503
    finally: s.stop()

def test_hpo_serve_port_in_use_is_one_line(server, registry):
    r = subprocess.run(['hpo-serve', '--registry', str(registry.root), '--port', str(server.port)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.startswith(f'hpo-serve: error: cannot listen on 127.0.0.1:{server.port}: ')
    assert r.stderr.count('\n') == 1

def test_hpo_serve_bad_registry_is_one_line(tmp_path):
    r = subprocess.run(['hpo-serve', '--registry', str(tmp_path/'nowhere'), '--port', str(free_port())], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and 'Traceback' not in r.stderr
    assert r.stderr.strip() == f'hpo-serve: error: {tmp_path/"nowhere"}: the registry folder does not exist (expected a folder with versions/ and {STATE})'

def test_hpo_monitor_writes_the_report(registry, series, tmp_path):
    out = tmp_path/'m.json'
    r = subprocess.run(['hpo-monitor', '--registry', str(registry.root), '--load-files', str(LOAD), '--days', '3',
                        '--end', '2023-09-18', '--version', 'v1', '--out', str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rep = json.loads(out.read_text())
    assert (rep['version'], rep['start'], rep['end']) == ('v1', '2023-09-15 00:00:00+00:00', '2023-09-18 00:00:00+00:00')
    n = rep['subsystems']['N']
    assert n['forecast_hours'] == 3 * 24 * 24 and 0 < n['mape_h1'] < n['mape_h24'] < 20
    recent = series['N']['2023-09-15':'2023-09-17'].to_numpy()
    assert n['psi'] == pytest.approx(psi(registry.manifest('v1')['reference']['N'], recent), rel=1e-9)
    r = subprocess.run(['hpo-monitor', '--registry', str(registry.root), '--load-files', str(LOAD), '--version', 'v3'],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count('\n') == 1 and 'checksum mismatch' in r.stderr

def test_hpo_retrain_decides_and_logs(registry, tmp_path):
    reg = Registry(shutil.copytree(registry.root, tmp_path/'models'))
    common = ['hpo-retrain', '--registry', str(reg.root), '--load-files', str(LOAD), '--end', '2023-09-18', '--days', '3']
    r = subprocess.run(common + ['--max-mape', '50', '--max-psi', '100'], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert 'v1 kept: no threshold crossed' in r.stdout
    r = subprocess.run(common + ['--force', '--trees', '10', '--train-days', '120'], capture_output=True, text=True, timeout=300,
                       env={**os.environ, 'OMP_WAIT_POLICY': 'PASSIVE'})
    assert r.returncode == 0, r.stderr
    kept, forced = [json.loads(l) for l in (reg.root/'decisions.jsonl').read_text().splitlines()]
    assert kept['action'] == 'kept' and forced['reasons'][-1] == 'on demand' and forced['candidate'] == 'v4'
    assert forced['action'] == ('promoted' if forced['candidate_mape'] < forced['serving_mape'] else 'rejected')
    assert reg.serving == ('v4' if forced['action'] == 'promoted' else 'v1')
    assert reg.manifest('v4')['train_end'].startswith('2023-09-15')       # trained only on data before the period
    assert 'hpo-retrain' in reg.manifest('v4')['note']

# --- a model with wind and solar: forecast when the request does not give them ---

def test_wind_and_solar_are_forecast_when_not_given(wind_client, wind_registry, series, ren):
    h = wind_client.get('/health').json()
    assert h['status'] == 'ok' and h['targets'] == ['load', 'wind', 'solar']
    v1 = wind_client.get('/v1/models').json()['versions'][0]
    assert v1['targets'] == ['load', 'wind', 'solar'] and v1['renewables']['series'] == ['solar/N', 'wind/N']
    r = wind_client.post('/v1/predict-and-optimize', json=body(series))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out['renewables_source'] == {'wind': 'forecast', 'solar': 'forecast'}
    f = pd.DataFrame(out['renewables'])
    origin = pd.Timestamp(ORIGIN, tz='UTC')
    assert len(f) == 48 and set(f.series) == {'wind', 'solar'} and (f.p10_mw <= f.p50_mw).all() and (f.p50_mw <= f.p90_mw).all()
    assert list(pd.to_datetime(f[f.series == 'wind'].timestamp)) == list(pd.date_range(origin + pd.Timedelta(hours=1), periods=24, freq='h'))
    b = pd.DataFrame(out['balance'])
    assert np.allclose(b.wind, f[f.series == 'wind'].p50_mw.clip(lower=0)) and np.allclose(b.solar, f[f.series == 'solar'].p50_mw.clip(lower=0))
    assert 0 < b.wind.mean() < 2_000 and b.solar.max() > 0                  # the North: a few hundred MW of each
    # the library's answer from the observed wind and solar (it reads nothing after the origin, as the service's archive)
    direct = predict_and_optimize_realtime(wind_registry.load_model(), series['N'][:ORIGIN], 'N',
                                           renewables_history={'wind': ren[('wind', 'N')], 'solar': ren[('solar', 'N')]})
    assert np.allclose(b.wind, direct.balance.wind, rtol=1e-9) and np.allclose(b.solar, direct.balance.solar, rtol=1e-9)
    assert np.allclose(pd.DataFrame(out['forecast']).p50_mw, direct.forecast.p50_mw, rtol=1e-9)

def test_wind_given_or_its_history_given(wind_client, series, ren):
    base = wind_client.post('/v1/predict-and-optimize', json=body(series)).json()
    given = wind_client.post('/v1/predict-and-optimize', json=body(series, wind_mw=[300.0] * 24)).json()
    assert given['renewables_source'] == {'wind': 'request', 'solar': 'forecast'}
    assert [b['wind'] for b in given['balance']] == [300.0] * 24 and {h['series'] for h in given['renewables']} == {'solar'}
    observed = ren[('wind', 'N')][:ORIGIN].iloc[-1080:]
    same = wind_client.post('/v1/predict-and-optimize', json=body(series, wind_history_mw=observed.tolist())).json()
    assert same['renewables_source']['wind'] == 'forecast'
    assert [b['wind'] for b in same['balance']] == pytest.approx([b['wind'] for b in base['balance']], rel=1e-9)   # the archive's values
    calm = wind_client.post('/v1/predict-and-optimize', json=body(series, wind_history_mw=(observed / 2).tolist())).json()
    assert sum(b['wind'] for b in calm['balance']) < sum(b['wind'] for b in base['balance'])                   # the request's history is read
    short = wind_client.post('/v1/predict-and-optimize', json=body(series, wind_history_mw=observed.tolist()[-100:]))
    assert short.status_code == 422 and short.json()['detail'][0]['loc'][:2] == ['body', 'wind_history_mw']
    late = wind_client.post('/v1/predict-and-optimize', json=body(series, origin='2023-11-14 23:00'))      # after the archive's balance
    assert late.status_code == 200, late.text
    assert late.json()['renewables_source'] == {'wind': 'none: no wind history of N up to the origin', 'solar': 'none: no solar history of N up to the origin'}

# --- the whole SIN in one request; one subsystem with its net export held ---

def test_the_whole_sin_in_one_request(sin_client, sin_registry, series):
    r = sin_client.post('/v1/predict-and-optimize', json=sin_body(series))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out['subsystem'] == 'SIN' and out['status'] in ('optimal', 'deficit') and set(out['monitoring']) == set(SUBSYSTEMS)
    fc, b, d = pd.DataFrame(out['forecast']), pd.DataFrame(out['balance']), pd.DataFrame(out['dispatch'])
    assert len(fc) == 96 and len(b) == 96 and set(d.subsystem) == set(SUBSYSTEMS)
    assert set(d.plant) == set(deck_system(None, None, 2023, 8).plants.plant) and len(d) == 24 * d.plant.nunique()   # every plant of the SIN
    assert b.groupby('timestamp').net_export.sum().abs().max() < 1e-3           # the exchange: what one exports, the others import
    assert np.allclose(b.hydro + b.thermal + b.wind + b.solar + b.deficit - b.curtailment, b.load + b.net_export, atol=1e-3)
    assert b.net_export.abs().max() > 100                                       # the subsystems do trade
    hs = {s: series[s][:ORIGIN].iloc[-337:] for s in SUBSYSTEMS}
    direct = predict_and_optimize_sin(sin_registry.load('v1'), hs)              # the library's answer on the same histories
    assert np.allclose(fc.p50_mw, direct.forecast.p50_mw, rtol=1e-9) and np.allclose(b.hydro, direct.balance.hydro, atol=1e-3)
    short = sin_client.post('/v1/predict-and-optimize', json=sin_body(series, scale={'NE': 4.0})).json()
    assert short['status'] == 'deficit' and 'binding: NE short' in short['message'], short['message']

def test_one_subsystem_holds_its_net_export(sin_client, series):
    one = lambda **kw: sin_client.post('/v1/predict-and-optimize', json=body(series) | {'subsystem': 'NE', 'load_mw': values(series['NE'][:ORIGIN].iloc[-337:])} | kw).json()
    base, exporting = one(), one(net_export_mw=[1500.0] * 24)
    assert base['subsystem'] == 'NE' and [x['net_export'] for x in base['balance']] == [0.0] * 24 and 'subsystem' not in base['balance'][0]
    supply = lambda o: sum(x['hydro'] + x['thermal'] + x['wind'] + x['solar'] + x['deficit'] - x['curtailment'] for x in o['balance'])
    assert supply(exporting) - supply(base) == pytest.approx(24 * 1500.0, abs=1.0)
    assert [x['load'] for x in exporting['balance']] == pytest.approx([x['load'] for x in base['balance']])   # its own load, the export apart
    heavy = one(net_export_mw=[90_000.0] * 24)
    assert heavy['status'] == 'deficit' and 'net export held at 90,000 MW (net_export_mw)' in heavy['message'], heavy['message']
    too_much = one(net_export_mw=[-100_000.0] * 24)                             # more import than the Northeast uses: no dispatch, and why
    assert 'binding: the net import held at 100,000 MW (net_export_mw) is more than its load' in too_much['detail'][0]['msg'], too_much

def test_the_sin_needs_a_model_of_the_four_and_consistent_loads(client, sin_client, series):
    r = client.post('/v1/predict-and-optimize', json=sin_body(series, sub='N'))        # a model of the North alone
    assert r.status_code == 422 and "no forecaster for subsystem 'NE'" in r.text
    b = sin_body(series); b['other_loads_mw'].pop('S')
    r = sin_client.post('/v1/predict-and-optimize', json=b)
    assert r.status_code == 422 and 'other three subsystems' in r.text
    r = sin_client.post('/v1/predict-and-optimize', json=sin_body(series, net_export_mw=[0.0] * 24))
    assert r.status_code == 422 and 'net_export_mw is for one subsystem alone' in r.text

# --- fuzzing from the service's own OpenAPI schema: no input may produce a server error ---
# (HPO_FUZZ_EXAMPLES=300 for a longer run)

def test_fuzz_no_server_errors(server):
    """Every operation of the live service's own OpenAPI schema, with generated inputs (schemathesis strategies driven
    by hypothesis directly, not through schemathesis's pytest plugin, which depends on pytest internals)."""
    schema = schemathesis.openapi.from_url(server.url + '/openapi.json')
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 5
    for op in operations:
        @settings(max_examples=int(os.environ.get('HPO_FUZZ_EXAMPLES', 25)), deadline=None,
                  suppress_health_check=list(HealthCheck), database=None)
        @given(case=op.as_strategy())
        def check(case):
            response = case.call(timeout=30)
            assert response.status_code < 500, f'{case.method} {case.path}: {response.status_code} {response.text[:500]}'
        check()

def test_wind_and_solar_bands_are_hpo_forecast_s_online_bands(wind_registry, series, ren, tmp_path):
    """Requests at later and later origins, each with its 45 days of wind and solar (the archive's), the last one answered
    after a restart: its wind and solar P10–P90 are what hpo-forecast's library call serves on the hours they covered."""
    root = tmp_path/'models'
    shutil.copytree(wind_registry.root, root, ignore=shutil.ignore_patterns('online'))   # no state followed yet
    origins = pd.date_range('2023-08-12 23:00', ORIGIN, freq='8h', tz='UTC')
    svc = ModelService(Registry(root))
    first = [svc.predict(PredictRequest(**body(series, origin=t))) for t in origins[:-1]]
    out = ModelService(Registry(root)).predict(PredictRequest(**body(series, origin=origins[-1])))   # restarted: the saved state goes on
    since = f'online: corrected since {origins[0] - pd.Timedelta(hours=1079 - 360):%Y-%m-%d %H:%M} UTC'
    assert first[0]['renewables_band'] == out['renewables_band'] == {'wind': since, 'solar': since}
    covered = {k: s[origins[0] - pd.Timedelta(hours=1079):origins[-1]] for k, s in ren.items()}
    lib = wind_registry.load_model().renewables.forecast(covered, origins[-1])   # what hpo-forecast calls
    got, cols = pd.DataFrame(out['renewables']), ['p10_mw', 'p50_mw', 'p90_mw']
    for kind in ('wind', 'solar'):
        assert np.abs(got[got.series == kind][cols].to_numpy() - lib[lib.series == kind][cols].to_numpy()).max() < 1e-6, kind
    calibrated = forecast_renewable(wind_registry.load_model().renewables, 'wind', 'N', ren[('wind', 'N')][:origins[-1]].iloc[-1080:], 24)
    assert np.abs(got[got.series == 'wind'].p90_mw.to_numpy() - calibrated.p90_mw.to_numpy()).max() > 1.0   # not the band as calibrated
    again = ModelService(Registry(root)).predict(PredictRequest(**body(series, origin=origins[-1])))       # the same origin: the same band
    assert pd.DataFrame(again['renewables'])[cols].equals(got[cols])
