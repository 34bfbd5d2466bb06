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

from hpo.etl import default_data_dir
from conftest import Server, free_port, ADMIN
from hpo.forecast import read_load_files, load_series, train
from hpo.renewables import read_balance_files, renewable_series
from hpo.netload import train_all
from hpo.mlops.registry import Registry, psi, STATE
from hpo.mlops.realtime import predict_and_optimize_realtime, subsystem_system, NO_RENEWABLES
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

@pytest.fixture(scope='module')
def wind_client(wind_registry, tmp_path_factory):
    s = Server(wind_registry.root, tmp_path_factory.mktemp('wlog'))
    try:
        with httpx.Client(base_url=s.url, timeout=60) as c: yield c
    finally: s.stop()

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
