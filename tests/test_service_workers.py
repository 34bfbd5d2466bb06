"""`hpo-serve --workers 2` over real HTTP on 127.0.0.1: two worker processes answer side by side, a promotion made
through one of them is served by both, state-changing requests need the admin's bearer token (401 without, 403 wrong,
403 when no token is configured), an oversized body is refused with 413, a worker that dies is replaced while
the service keeps answering, and what the service learns from requests (the online bands of the load, wind and solar,
the monitor's record) is the same whichever worker answers."""
import os
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
import signal, time

import httpx
import numpy as np
import pandas as pd
import pytest

from conftest import Server, ADMIN
from hpo.etl import default_data_dir
from hpo.forecast import read_load_files, load_series, train, Design
from hpo.renewables import read_balance_files, renewable_series
from hpo.netload import train_all
from hpo.mlops.registry import Registry
from hpo.mlops.service import Monitor
from hpo.mlops.app import cores_lock

LOAD = default_data_dir()/'ons'/'curva_carga'/'CURVA_CARGA_2023.csv'
BALANCE = default_data_dir()/'ons'/'balanco_energia_subsistema'
SMALL = {'num_iterations': 10, 'num_leaves': 15, 'max_bin': 31}

@pytest.fixture(scope='module')
def registry(tmp_path_factory):
    series = load_series(read_load_files([LOAD]))
    fc = train({'N': series['N']}, '2023-06-01', '2023-02-01', val_days=30, epochs=0, lgbm_params=SMALL, log=lambda *a, **k: None)
    reg = Registry(tmp_path_factory.mktemp('reg')/'models', create=True)
    assert [reg.register(fc, training=series) for _ in range(2)] == ['v1', 'v2']
    reg.promote('v1')
    return reg

@pytest.fixture(scope='module')
def server(registry, tmp_path_factory):
    s = Server(registry.root, tmp_path_factory.mktemp('log'), workers=2)
    yield s
    s.stop()

def core_by_core(items):
    """`items` one by one, this process moved to the next core before each (its cores restored after). A new connection
    is accepted most often by the worker pinned to the client's core (measured: 29 of 30 from one core), so that
    requests on new connections from a process that stays on one core can all reach the same worker."""
    before = os.sched_getaffinity(0); cores = sorted(before)
    try:
        for i, x in enumerate(items):
            os.sched_setaffinity(0, {cores[i % len(cores)]}); yield x
    finally: os.sched_setaffinity(0, before)

def healths(url:str, n:int=40) -> list:
    "`n` answers of /health, each on a new connection (so that the kernel hands them to either worker)."
    return [httpx.get(url + '/health', timeout=10).json() for _ in core_by_core(range(n))]

def both_workers(url:str, n:int=60) -> list:
    "The /health answers until two worker processes have answered (at most `n` requests)."
    out = []
    for _ in core_by_core(range(n)):
        out.append(httpx.get(url + '/health', timeout=10).json())
        if len({h['pid'] for h in out}) >= 2: break
    return out

def test_two_workers_answer(server):
    h = both_workers(server.url)
    assert len({x['pid'] for x in h}) == 2, h[-1]
    assert {x['model_version'] for x in h} == {'v1'}

def test_each_worker_has_a_core_of_its_own(server):
    "As many workers as cores (or fewer): each is pinned to one core, a different one."
    cores = [os.sched_getaffinity(int(p)) for p in {x['pid'] for x in both_workers(server.url)}]
    if len(os.sched_getaffinity(0)) < 2: pytest.skip('one core: the second worker is not pinned')
    assert all(len(c) == 1 for c in cores) and len(set.union(*cores)) == 2, cores

def test_promotion_needs_the_token_and_reaches_every_worker(server, registry):
    url = server.url + '/v1/models/v2/promote'
    r = httpx.post(url)
    assert r.status_code == 401 and r.headers['www-authenticate'] == 'Bearer', r.text
    assert httpx.post(url, headers={'Authorization': 'Bearer not-the-token'}).status_code == 403
    assert registry.serving == 'v1'                                   # refused requests changed nothing
    r = httpx.post(url, headers=ADMIN)
    assert r.status_code == 200 and r.json() == {'model_version': 'v2', 'previous': 'v1'}, r.text
    h = both_workers(server.url) + healths(server.url, 20)
    assert len({x['pid'] for x in h}) == 2 and {x['model_version'] for x in h} == {'v2'}
    httpx.post(server.url + '/v1/models/v1/promote', headers=ADMIN).raise_for_status()   # back as it was
    assert {x['model_version'] for x in healths(server.url, 20)} == {'v1'}

def test_oversized_body_is_413(server):
    body = b'{"subsystem": "N", "history_start": "2023-08-01T00:00:00Z", "load_mw": [' + b'1000.0, ' * 400_000 + b'1000.0]}'
    r = httpx.post(server.url + '/v1/predict-and-optimize', content=body, headers={'content-type': 'application/json'}, timeout=30)
    assert r.status_code == 413, r.text
    r = httpx.post(server.url + '/v1/predict-and-optimize', content=iter([body[:1_000_000], body[1_000_000:]]),
                   headers={'content-type': 'application/json'}, timeout=30)   # streamed, no length declared
    assert r.status_code == 413, r.text
    assert httpx.get(server.url + '/health').status_code == 200

def test_a_dead_worker_is_replaced(server):
    pids = {x['pid'] for x in both_workers(server.url)}
    victim = sorted(pids)[0]
    os.kill(victim, signal.SIGKILL)
    deadline, seen = time.time() + 60, set()
    for _ in core_by_core(iter(lambda: time.time() < deadline, False)):
        r = httpx.get(server.url + '/health', timeout=10)        # the other worker keeps answering meanwhile
        assert r.status_code == 200
        seen.add(r.json()['pid'])
        if seen - pids: break
        time.sleep(0.2)
    assert seen - pids, f'no new worker within 60 s (seen {seen}, before {pids})'
    assert victim not in seen

def test_no_token_configured_means_disabled(registry, tmp_path):
    s = Server(registry.root, tmp_path, admin_token=None)
    try:
        r = httpx.post(s.url + '/v1/models/v2/promote', headers=ADMIN)
        assert r.status_code == 403 and 'disabled' in r.json()['detail'], r.text
        assert registry.serving == 'v1'
    finally: s.stop()

def load_body(series, origin, hours=337):
    h = series['N'][:origin].iloc[-hours:]
    return {'subsystem': 'N', 'history_start': h.index[0].isoformat(), 'load_mw': [None if np.isnan(x) else float(x) for x in h]}

def test_the_online_band_is_followed_by_every_worker_and_after_a_restart(server, registry, tmp_path):
    """Requests at later and later origins, each with the last two weeks only, answered by both workers, then by a
    restarted service: the last band is the one hpo-forecast's library call serves on the hours they covered."""
    series = load_series(read_load_files([LOAD]))
    origins, pids, out = pd.date_range('2023-08-01 23:00', periods=60, freq='3h', tz='UTC'), set(), []
    for t in core_by_core(origins):
        r = httpx.post(server.url + '/v1/predict-and-optimize', json=load_body(series, t), timeout=60)   # a new connection: either worker
        assert r.status_code == 200, r.text
        pids.add(r.headers['x-hpo-worker']); out.append(r.json())
        if len(pids) == 2 and len(out) >= 6: break
    assert len(pids) == 2, pids
    assert out[0]['load_band'] == out[-1]['load_band'] == f'online: corrected since {origins[0]:%Y-%m-%d %H:%M} UTC'
    s = Server(registry.root, tmp_path)                  # the service restarted: it goes on from the saved state
    try:
        last = origins[len(out)] + pd.Timedelta(hours=7)
        r = httpx.post(s.url + '/v1/predict-and-optimize', json=load_body(series, last), timeout=60)
        assert r.status_code == 200, r.text
        again = httpx.post(s.url + '/v1/predict-and-optimize', json=load_body(series, origins[len(out) - 1]), timeout=60).json()
        revised = load_body(series, origins[len(out) - 1]); revised['load_mw'][-3] += 100.0
        other = httpx.post(s.url + '/v1/predict-and-optimize', json=revised, timeout=60).json()
    finally: s.stop()
    got, v = pd.DataFrame(r.json()['forecast']), r.json()['model_version']
    lib = registry.load_model(v).forecast({'N': series['N'][origins[0] - pd.Timedelta(hours=336):last]}, None)   # what hpo-forecast calls
    assert np.abs(got[['p10_mw', 'p50_mw', 'p90_mw']].to_numpy() - lib[['p10_mw', 'p50_mw', 'p90_mw']].to_numpy()).max() < 1e-6
    calibrated = registry.load(v).calibrated(Design(series['N'][:last].iloc[-337:], registry.load(v).spec), 'N', [336])[1]
    assert np.abs(got.p90_mw.to_numpy() - calibrated['p90'][0]).max() > 1.0   # not the band as calibrated
    assert again['load_band'] == out[-1]['load_band'] and again['forecast'] == out[-1]['forecast']   # an older origin, the same inputs: as served
    assert other['load_band'].startswith('calibrated: an origin before')    # other inputs: the state only moves forward

def test_every_worker_reports_the_same_monitoring(server, registry):
    """Requests at later and later origins answered by both workers, then /v1/monitoring asked of both: the same record,
    the one a single monitor keeps when it sees those requests in that order."""
    httpx.post(server.url + '/v1/models/v1/promote', headers=ADMIN).raise_for_status()   # a promotion starts the record afresh
    series, mon, pids = load_series(read_load_files([LOAD])), Monitor(), set()
    for t in core_by_core(pd.date_range('2023-09-01 23:00', periods=60, freq='12h', tz='UTC')):   # until both workers have answered (the kernel picks)
        r = httpx.post(server.url + '/v1/predict-and-optimize', json=load_body(series, t), timeout=60)   # a new connection: either worker
        assert r.status_code == 200, r.text
        pids.add(r.headers['x-hpo-worker'])
        h = series['N'][:t].iloc[-337:]; mon.observe('N', h)
        mon.record('N', pd.DataFrame(r.json()['forecast']).assign(timestamp=lambda f: pd.to_datetime(f.timestamp, utc=True)))
        if len(pids) == 2 and t >= pd.Timestamp('2023-09-04 23:00', tz='UTC'): break
    assert len(pids) == 2, pids
    answers = {}
    for _ in core_by_core(range(60)):
        r = httpx.get(server.url + '/v1/monitoring', timeout=10)
        answers[r.headers['x-hpo-worker']] = r.json()
        if len(answers) == 2: break
    assert len(answers) == 2, answers
    a, b = answers.values()
    assert a == b
    n, expected = a['subsystems']['N'], mon.status()['N']
    assert n['scored_forecasts'] == expected['scored_forecasts'] > 24
    assert n['rolling_mape'] == pytest.approx(expected['rolling_mape'], rel=1e-9)

def test_the_wind_and_solar_bands_are_followed_by_every_worker(tmp_path):
    """A model with wind and solar behind two workers: requests at later and later origins, answered by both, end with
    the wind and solar P10–P90 that hpo-forecast's library call serves on the hours they covered (the archive's)."""
    series = load_series(read_load_files([LOAD]))
    ren = {k: s for k, s in renewable_series(read_balance_files(sorted(BALANCE.glob('*.csv')))).items() if k[1] == 'N'}
    m = train_all({'N': series['N']}, ren, '2023-06-01', '2023-02-01', val_days=30, epochs=0, log=None, lgbm_params=SMALL)
    reg = Registry(tmp_path/'models', create=True); reg.promote(reg.register(m, training=series))
    s, pids, out = Server(reg.root, tmp_path, workers=2), set(), []
    try:
        for t in core_by_core(pd.date_range('2023-08-10 23:00', periods=45, freq='4h', tz='UTC')):   # until both workers have answered (the kernel picks)
            r = httpx.post(s.url + '/v1/predict-and-optimize', json=load_body(series, t), timeout=60)   # a new connection: either worker
            assert r.status_code == 200, r.text
            pids.add(r.headers['x-hpo-worker']); out.append((t, r.json()))
            if len(pids) == 2 and len(out) >= 4: break
    finally: s.stop()
    assert not cores_lock(s.proc.pid).exists()   # the workers' lock file went with the service
    assert len(pids) == 2, pids
    (first, _), (last, got) = out[0], out[-1]
    assert set(got['renewables_band'].values()) == {f'online: corrected since {first - pd.Timedelta(hours=1079 - 360):%Y-%m-%d %H:%M} UTC'}
    lib = reg.load_model().renewables.forecast({k: v[first - pd.Timedelta(hours=1079):last] for k, v in ren.items()}, last)   # what hpo-forecast calls
    f, cols = pd.DataFrame(got['renewables']), ['p10_mw', 'p50_mw', 'p90_mw']
    for kind in ('wind', 'solar'):
        assert np.abs(f[f.series == kind][cols].to_numpy() - lib[lib.series == kind][cols].to_numpy()).max() < 1e-6, kind

def test_busy_workers_hand_keep_alive_clients_on(server):
    """Four clients, each keeping its connection open (HTTP keep-alive), send requests side by side: a worker answering
    while others wait for it closes that connection, so the clients' work spreads over both workers whichever accepted
    their first connection."""
    from concurrent.futures import ThreadPoolExecutor
    series = load_series(read_load_files([LOAD]))
    body = load_body(series, pd.Timestamp('2023-07-03 23:00', tz='UTC'))   # before the origins the other tests followed: the state is left alone
    def client(_):
        with httpx.Client(base_url=server.url, timeout=60) as c:
            out = []
            for _ in range(8):
                r = c.post('/v1/predict-and-optimize', json=body)
                assert r.status_code == 200, r.text
                out.append((r.headers['x-hpo-worker'], r.headers.get('connection')))
            return out
    with ThreadPoolExecutor(4) as ex: answers = [a for out in ex.map(client, range(4)) for a in out]
    assert len({pid for pid, _ in answers}) == 2, answers
    assert any(c == 'close' for _, c in answers), answers
    assert all(c in (None, 'close', 'keep-alive') for _, c in answers), answers
