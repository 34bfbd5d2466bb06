"""The dashboard (`GET /dashboard` of `hpo-serve`) in Debian's headless Chromium, against the real service on 127.0.0.1.

A small model of the four subsystems' load (LightGBM only, 10 trees per horizon, trained on February–May 2023) with the
North's wind and solar forecasters is registered and served; one real request makes the North panel live (its wind
and solar forecast from the service's archive), the other three are replays of the bundled data's latest day (with the
observed wind and solar: the model has no forecaster of theirs). The page must load with no JavaScript error, show a
card per subsystem and draw all six charts of the selected one with the data the JSON endpoint gives — the wind and
solar chart and the net-load chart among them; a screenshot is saved.
"""
import os
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
import httpx
import numpy as np
import pytest

from hpo.etl import default_data_dir, SUBSYSTEMS
from hpo.forecast import read_load_files, load_series
from hpo.renewables import read_balance_files, renewable_series
from hpo.netload import train_all
from hpo.mlops.registry import Registry
from conftest import Server, SHOTS

@pytest.fixture(scope='module')
def server(tmp_path_factory):
    series = load_series(read_load_files([default_data_dir()/'ons'/'curva_carga'/'CURVA_CARGA_2023.csv']))
    ren = renewable_series(read_balance_files([default_data_dir()/'ons'/'balanco_energia_subsistema'/'BALANCO_ENERGIA_SUBSISTEMA_2023.csv']))
    m = train_all(series, {k: s for k, s in ren.items() if k[1] == 'N'}, '2023-06-01', '2023-02-01', val_days=30, epochs=0, log=None,
                  lgbm_params={'num_iterations': 10, 'num_leaves': 15, 'max_bin': 31})
    reg = Registry(tmp_path_factory.mktemp('reg')/'models', create=True)
    reg.promote(reg.register(m, training=series))
    s = Server(reg.root, tmp_path_factory.mktemp('log'))
    h = series['N'][:'2023-08-14 23:00'].iloc[-337:]
    r = httpx.post(s.url + '/v1/predict-and-optimize', timeout=60,
                   json={'subsystem': 'N', 'history_start': h.index[0].isoformat(), 'load_mw': [None if np.isnan(x) else x for x in h]})
    assert r.status_code == 200, r.text
    yield s
    s.stop()

def test_panel_json(server):
    live = httpx.get(server.url + '/v1/dashboard/N', timeout=60).json()
    assert (live['mode'], live['origin']) == ('live', '2023-08-14T23:00:00+00:00')
    w = live['renewables']
    assert w['source'] == {'wind': 'forecast', 'solar': 'forecast'} and len(w['timestamp']) == 72
    assert w['wind']['p50_mw'][48:] == pytest.approx(live['hydro']['wind_mw']) and all(x is not None for x in w['wind']['p90_mw'][48:])
    assert all(x is not None for x in w['wind']['actual_mw']) and w['mae_mw']['wind'] > 0 and w['mae_mw']['net_load'] > 0
    net = np.array(live['load']['p50_mw'][48:]) - np.array(w['wind']['p50_mw'][48:]) - np.array(w['solar']['p50_mw'][48:])
    assert w['net_load']['p50_mw'][48:] == pytest.approx(net.tolist())
    replay = httpx.get(server.url + '/v1/dashboard/SE', timeout=60).json()
    assert (replay['mode'], replay['origin']) == ('replay', '2023-09-19T02:00:00+00:00')
    assert replay['kpis']['hours_observed'] == 24 and replay['kpis']['hydro_actual_mwh'] > 0
    assert replay['renewables']['source'] == {'wind': 'observed', 'solar': 'observed'}          # no South-east forecaster of them
    assert 'the dispatch uses the observed wind and solar of those hours' in replay['notes']
    assert replay['drift']['psi'] is not None and replay['drift']['level'] in ('stable', 'moderate', 'drift')
    assert set(replay['drift']['features']) == {'load_mw', 'load_vs_day_mean', 'change_1h_pct', 'change_24h_pct', 'change_168h_pct'}
    r = httpx.get(server.url + '/v1/dashboard/SE', params={'origin': 'tomorrow'}, timeout=60)
    assert r.status_code == 422 and r.json()['detail'][0]['loc'][-1] == 'origin'
    r = httpx.get(server.url + '/v1/dashboard/N', params={'origin': '9999-12-31T23:00:00Z'}, timeout=60)   # no deck, no data: a 422, not a crash
    assert r.status_code == 422 and r.json()['detail'][0]['loc'] == ['query', 'origin']

def test_dashboard_in_chromium(server, browser):
    page = browser.new_page(viewport={'width': 1400, 'height': 1100})
    errors = []
    page.on('pageerror', lambda e: errors.append(str(e)))
    page.on('console', lambda m: errors.append(m.text) if m.type == 'error' else None)
    assert page.goto(server.url + '/dashboard?subsystem=SE').status == 200
    page.wait_for_selector('body[data-ready="1"]', timeout=90_000)
    assert page.locator('.card').count() == 4
    assert [page.locator('.card').nth(i).get_attribute('data-subsystem') for i in range(4)] == list(SUBSYSTEMS)
    assert 'live' in page.locator('.card[data-subsystem="N"]').inner_text()
    traces = {'chart-load': 4, 'chart-net-load': 3, 'chart-renewables': 8, 'chart-hydro': 4, 'chart-reservoirs': 2, 'chart-cost': 2}
    for chart, least in traces.items():
        assert page.locator(f'#{chart} .main-svg').count() > 0, chart                       # Plotly drew it
        assert page.locator(f'#{chart} .scatterlayer .trace').count() >= least, chart
        assert page.evaluate(f"document.getElementById('{chart}').data.length") >= least, chart
    panel = httpx.get(server.url + '/v1/dashboard/SE', timeout=60).json()
    drawn = page.evaluate("document.getElementById('chart-load').data.map(t => t.y.length)")
    assert drawn == [len(panel['load']['p50_mw'])] * 4 == [72] * 4
    assert page.evaluate("document.getElementById('chart-hydro').data[0].y") == pytest.approx(panel['hydro']['optimized_mw'])
    page.locator('.card[data-subsystem="N"]').click()
    page.wait_for_function("document.getElementById('chart-load').layout.title.text.startsWith('N:')")
    north = httpx.get(server.url + '/v1/dashboard/N', timeout=60).json()['renewables']
    drawn = page.evaluate("Object.fromEntries(document.getElementById('chart-renewables').data.map(t => [t.name, t.y]))")
    assert drawn['wind, forecast P50'][48:] == pytest.approx(north['wind']['p50_mw'][48:])
    assert drawn['solar, actual (ONS)'][48:] == pytest.approx(north['solar']['actual_mw'][48:])
    assert drawn['wind P10–P90'][48:] == pytest.approx(north['wind']['p10_mw'][48:])
    net = page.evaluate("Object.fromEntries(document.getElementById('chart-net-load').data.map(t => [t.name, t.y]))")
    assert net['net load, dispatched (P50)'][48:] == pytest.approx(north['net_load']['p50_mw'][48:])
    assert 'wind forecast, solar forecast' in page.locator('.card[data-subsystem="N"]').inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS/'dashboard.png'), full_page=True)
    assert not errors, errors
    page.close()
