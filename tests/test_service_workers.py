"""`hpo-serve --workers 2` over real HTTP on 127.0.0.1: two worker processes answer side by side, a promotion made
through one of them is served by both, state-changing requests need the admin's bearer token (401 without, 403 wrong,
403 when no token is configured), an oversized body is refused with 413, and a worker that dies is replaced while
the service keeps answering."""
import os
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
import signal, time

import httpx
import pytest

from conftest import Server, ADMIN
from hpo.etl import default_data_dir
from hpo.forecast import read_load_files, load_series, train
from hpo.mlops.registry import Registry

LOAD = default_data_dir()/'ons'/'curva_carga'/'CURVA_CARGA_2023.csv'
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

def healths(url:str, n:int=40) -> list:
    "`n` answers of /health, each on a new connection (so that the kernel hands them to either worker)."
    return [httpx.get(url + '/health', timeout=10).json() for _ in range(n)]

def both_workers(url:str, n:int=60) -> list:
    "The /health answers until two worker processes have answered (at most `n` requests)."
    out = []
    for _ in range(n):
        out.append(httpx.get(url + '/health', timeout=10).json())
        if len({h['pid'] for h in out}) >= 2: break
    return out

def test_two_workers_answer(server):
    h = both_workers(server.url)
    assert len({x['pid'] for x in h}) == 2, h[-1]
    assert {x['model_version'] for x in h} == {'v1'}

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
    while time.time() < deadline:
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
