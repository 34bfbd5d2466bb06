"""The dashboard (`GET /dashboard` of `hpo-serve`) in Debian's headless Chromium, against the real service on 127.0.0.1.

A small model of the four subsystems (LightGBM only, 10 trees per horizon, trained on February–May 2023) is registered
and served; one real request makes the North panel live, the other three are replays of the bundled data's latest day.
The page must load with no JavaScript error, show a card per subsystem and draw all four charts of the selected one
with the data the JSON endpoint gives; a screenshot is saved.
"""
import os
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
import httpx
import numpy as np
import pytest

from hpo.etl import default_data_dir, SUBSYSTEMS
from hpo.forecast import read_load_files, load_series, train
from hpo.mlops.registry import Registry
from conftest import Server, SHOTS

@pytest.fixture(scope='module')
def server(tmp_path_factory):
    series = load_series(read_load_files([default_data_dir()/'ons'/'curva_carga'/'CURVA_CARGA_2023.csv']))
    fc = train(series, '2023-06-01', '2023-02-01', val_days=30, epochs=0,
               lgbm_params={'num_iterations': 10, 'num_leaves': 15, 'max_bin': 31}, log=lambda *a, **k: None)
    reg = Registry(tmp_path_factory.mktemp('reg')/'models', create=True)
    reg.promote(reg.register(fc, training=series))
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
    replay = httpx.get(server.url + '/v1/dashboard/SE', timeout=60).json()
    assert (replay['mode'], replay['origin']) == ('replay', '2023-09-19T02:00:00+00:00')
    assert replay['kpis']['hours_observed'] == 24 and replay['kpis']['hydro_actual_mwh'] > 0
    assert replay['drift']['psi'] is not None and replay['drift']['level'] in ('stable', 'moderate', 'drift')
    assert set(replay['drift']['features']) == {'load_mw', 'load_vs_day_mean', 'change_1h_pct', 'change_24h_pct', 'change_168h_pct'}
    r = httpx.get(server.url + '/v1/dashboard/SE', params={'origin': 'tomorrow'}, timeout=60)
    assert r.status_code == 422 and r.json()['detail'][0]['loc'][-1] == 'origin'

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
    traces = {'chart-load': 4, 'chart-hydro': 4, 'chart-reservoirs': 2, 'chart-cost': 2}
    for chart, least in traces.items():
        assert page.locator(f'#{chart} .main-svg').count() > 0, chart                       # Plotly drew it
        assert page.locator(f'#{chart} .scatterlayer .trace').count() >= least, chart
    panel = httpx.get(server.url + '/v1/dashboard/SE', timeout=60).json()
    drawn = page.evaluate("document.getElementById('chart-load').data.map(t => t.y.length)")
    assert drawn == [len(panel['load']['p50_mw'])] * 4 == [72] * 4
    assert page.evaluate("document.getElementById('chart-hydro').data[0].y") == pytest.approx(panel['hydro']['optimized_mw'])
    page.locator('.card[data-subsystem="N"]').click()
    page.wait_for_function("document.getElementById('chart-load').layout.title.text.startsWith('N:')")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS/'dashboard.png'), full_page=True)
    assert not errors, errors
    page.close()
