"""Service benchmark: latency of `POST /v1/predict-and-optimize` on a warm `hpo-serve` (one subsystem: 24 h forecast +
24 h dispatch of that subsystem's plants), sequentially per subsystem, then under concurrent clients.

    python benchmarks/service.py [--model DIR] [--requests 60] [--clients 20] [--seconds 60]

Without --model a small LightGBM-only model of the four subsystems is trained first (a few seconds); with --model, a
model folder written by hpo-train is registered. Requests use real 2023 ONS load histories ending at varied origins.
Targets (issue 5): p50 <= 100 ms, p99 <= 300 ms; 20 concurrent clients for 60 s with zero errors.
"""
import argparse, os, socket, subprocess, tempfile, threading, time
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
from pathlib import Path

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('--model', help='model folder from hpo-train (default: train a small one)')
p.add_argument('--requests', type=int, default=60, help='sequential requests per subsystem')
p.add_argument('--clients', type=int, default=20, help='concurrent clients')
p.add_argument('--seconds', type=float, default=60, help='duration of the concurrent run')
a = p.parse_args()

import httpx, numpy as np
from hpo.etl import default_data_dir, SUBSYSTEMS
from hpo.forecast import read_load_files, load_series, train
from hpo.mlops.registry import Registry

series = load_series(read_load_files([default_data_dir()/'ons'/'curva_carga'/'CURVA_CARGA_2023.csv']))
rng = np.random.default_rng(0)
origins = [series['SE'].index[i] for i in rng.integers(24 * 220, len(series['SE']) - 48, 200)]

def body(sub, origin):
    h = series[sub][:origin].iloc[-337:]
    return {'subsystem': sub, 'history_start': h.index[0].isoformat(), 'load_mw': [None if np.isnan(x) else float(x) for x in h]}

def pct(x, q): return float(np.percentile(np.asarray(x) * 1e3, q))

with tempfile.TemporaryDirectory() as d:
    reg = Registry(Path(d)/'models', create=True)
    if a.model: model = a.model
    else:
        t0 = time.time()
        model = train(series, '2023-06-01', '2023-02-01', val_days=30, epochs=0,
                      lgbm_params={'num_iterations': 10, 'num_leaves': 15, 'max_bin': 31}, log=lambda *a, **k: None)
        print(f'trained a small model of {", ".join(model.subsystems)} in {time.time() - t0:.1f} s')
    reg.promote(reg.register(model))
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    url = f'http://127.0.0.1:{port}'
    server = subprocess.Popen(['hpo-serve', '--registry', str(reg.root), '--port', str(port)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                if httpx.get(url + '/health').status_code == 200: break
            except httpx.TransportError: time.sleep(0.2)
        print(f'\nsequential, {a.requests} requests per subsystem after 3 warm-up requests (client-side latency, ms):')
        print(f'{"subsystem":>9} {"p50":>7} {"p99":>7} {"max":>7}   server: forecast / dispatch / total (median)')
        with httpx.Client(base_url=url, timeout=30) as c:
            for sub in SUBSYSTEMS:
                subs = [x for x in reg.load(reg.serving).subsystems]
                if sub not in subs: continue
                for o in origins[:3]: c.post('/v1/predict-and-optimize', json=body(sub, o)).raise_for_status()
                lat, server_ms = [], []
                for i in range(a.requests):
                    b = body(sub, origins[i % len(origins)])
                    t = time.perf_counter(); r = c.post('/v1/predict-and-optimize', json=b); lat.append(time.perf_counter() - t)
                    r.raise_for_status(); server_ms.append(r.json()['timings_ms'])
                med = {k: np.median([s[k] for s in server_ms]) for k in ('forecast', 'dispatch', 'total')}
                print(f'{sub:>9} {pct(lat, 50):7.1f} {pct(lat, 99):7.1f} {pct(lat, 100):7.1f}   '
                      f'{med["forecast"]:.1f} / {med["dispatch"]:.1f} / {med["total"]:.1f}')
        if a.clients and a.seconds:
            lat, errors, stop = [], [], time.time() + a.seconds
            def client(k):
                with httpx.Client(base_url=url, timeout=60) as c:
                    i = k
                    while time.time() < stop:
                        sub = subs[i % len(subs)]; b = body(sub, origins[i % len(origins)]); i += a.clients
                        t = time.perf_counter()
                        try:
                            r = c.post('/v1/predict-and-optimize', json=b)
                            if r.status_code != 200: errors.append(f'{r.status_code}: {r.text[:200]}')
                        except httpx.HTTPError as e: errors.append(repr(e))
                        lat.append(time.perf_counter() - t)
            threads = [threading.Thread(target=client, args=(k,)) for k in range(a.clients)]
            for t in threads: t.start()
            for t in threads: t.join()
            print(f'\n{a.clients} concurrent clients for {a.seconds:.0f} s, subsystems in turn: {len(lat)} requests '
                  f'({len(lat) / a.seconds:.1f}/s), {len(errors)} errors; latency p50 {pct(lat, 50):.0f} ms, p99 {pct(lat, 99):.0f} ms')
            for e in errors[:5]: print('  error:', e)
    finally:
        server.terminate(); server.wait(10)
