"""Service benchmark, all measured in one run on this machine against `hpo-serve` on 127.0.0.1:

1. latency of `POST /v1/predict-and-optimize` with one client, per subsystem (p50/p99 client side, and where the time
   goes server side: load and renewables forecast, dispatch LP build and solve, the rest: tables, JSON, HTTP);
2. the saturated throughput (locust users with no wait) with 1 worker process and with 2, and their ratio;
3. 20 and 50 locust users each waiting 1-2 s between requests, for `--wait-seconds` (p50, p99, errors, requests/s).

    python benchmarks/service.py [--model DIR] [--requests 100] [--saturate-users 8] [--seconds 30] [--wait-seconds 60]

Without --model a small LightGBM-only model of the four subsystems is trained first (a few seconds); with --model, a
model folder written by hpo-train is registered. Requests carry the last 337 hours of real 2023 ONS load, at origins
that move forward hour by hour (as a screen refreshing through the day: the service's online band goes on one hour at
a time; its state is cleared before each server starts). Targets (the service issue): SE p50 <= 100 ms, p99 <= 250 ms
with the full model; saturated throughput with 2 workers >= 1.7 x with 1; 20 users p50 <= 300 ms, p99 <= 1 s, zero
errors; 50 users zero errors. The load average is printed with each run: other jobs on the machine slow everything.
"""
import argparse, os, shutil, sys, tempfile, time
from pathlib import Path
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from service_load import serve, stop, locust, request_body, request_index, server_errors   # a server, locust headless, the requests

def pct(x, q): import numpy as np; return float(np.percentile(np.asarray(x), q))

def latency_table(url:str, subs:list, n:int, first:int) -> list:
    "One client, `n` requests per subsystem at consecutive hourly origins from origin index `first` (after 3 warm-up requests)."
    import httpx, socket, numpy as np
    rows = []
    nodelay = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])   # as browsers and urllib3 (locust) do
    with httpx.Client(base_url=url, timeout=60, transport=nodelay) as c:
        for sub in subs:
            k = lambda i: request_index(sub, first + i)
            for i in range(3): c.post('/v1/predict-and-optimize', json=request_body(k(i))).raise_for_status()
            lat, srv, lp = [], [], []
            for i in range(3, 3 + n):
                b = request_body(k(i))
                t = time.perf_counter(); r = c.post('/v1/predict-and-optimize', json=b); lat.append((time.perf_counter() - t) * 1e3)
                r.raise_for_status(); o = r.json(); srv.append(o['timings_ms']); lp.append(o['summary'])
            med = lambda xs: float(np.median(xs))
            rows.append({'subsystem': sub, 'p50': pct(lat, 50), 'p99': pct(lat, 99), 'max': max(lat),
                         'forecast': med([s['forecast'] for s in srv]), 'dispatch': med([s['dispatch'] for s in srv]),
                         'build': med([x['build_s'] * 1e3 for x in lp]), 'solve': med([x['solve_s'] * 1e3 for x in lp]),
                         'iterations': med([x['iterations'] for x in lp]), 'rest': med([l - s['total'] for l, s in zip(lat, srv)]),
                         'band': o['load_band'][:7], 'load': os.getloadavg()[0]})
    return rows

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--model', help='model folder from hpo-train (default: train a small one)')
    p.add_argument('--requests', type=int, default=100, help='one-client requests per subsystem')
    p.add_argument('--saturate-users', type=int, default=8); p.add_argument('--seconds', type=float, default=30)
    p.add_argument('--wait-seconds', type=float, default=60)
    p.add_argument('--skip-load', action='store_true', help='the one-client table only')
    p.add_argument('--skip-users', action='store_true', help='no 20- and 50-user runs')
    a = p.parse_args()
    from hpo.etl import default_data_dir, SUBSYSTEMS
    from hpo.forecast import read_load_files, load_series, train
    from hpo.mlops.registry import Registry
    from hpo.mlops.service import ONLINE_FOLDER
    with tempfile.TemporaryDirectory() as d:
        reg = Registry(Path(d)/'models', create=True)
        if a.model: model = a.model
        else:
            series = load_series(read_load_files([default_data_dir()/'ons'/'curva_carga'/'CURVA_CARGA_2023.csv']))
            model = train(series, '2023-06-01', '2023-02-01', val_days=30, epochs=0,
                          lgbm_params={'num_iterations': 10, 'num_leaves': 15, 'max_bin': 31}, log=lambda *x, **k: None)
        reg.promote(reg.register(model))
        subs = [s for s in SUBSYSTEMS if s in reg.load(reg.serving).subsystems]
        fresh = lambda: shutil.rmtree(reg.root/ONLINE_FOLDER, ignore_errors=True)   # every server starts with no online band state
        runs, table, errors = [], [], []   # errors: the servers' tracebacks (their last lines)
        def run(name, workers, url, users, seconds, wait, start, server):
            r = locust(url, users, seconds, wait, Path(d)/f'run{len(runs)}', start, server)
            runs.append((name, workers, r))
            return start + r['requests'] // len(subs) + 2   # the next run goes on from the hour this one reached
        for workers in ((1, 2) if not a.skip_load else (2,)):
            log = Path(d)/f'serve-{workers}.log'
            proc, url = serve(reg.root, workers, (4800, 5300, 5900), log); fresh()   # the decks of July to September 2023 read; then no online band state
            start = 4800   # origins from about 1 August 2023; each server follows its own online band from there
            try:
                if workers == 2 and a.requests:
                    table = latency_table(url, subs, a.requests, start); start += a.requests + 4
                if a.skip_load: continue
                start = run(f'saturated, {a.saturate_users} users, no wait', workers, url, a.saturate_users, a.seconds, 'none', start, proc)
                if workers == 2 and not a.skip_users:
                    for users in (20, 50): start = run(f'{users} users, 1-2 s between requests', workers, url, users, a.wait_seconds, '1-2', start, proc)
            finally:
                stop(proc)
                errors += [f'{workers} worker(s): {e}' for e in server_errors(log)]
    print(f'\nmodel: {a.model or "small LightGBM-only model of the four subsystems"}; {os.cpu_count()} cores')
    print(f'\none client, {a.requests} requests per subsystem at consecutive hourly origins (ms; server side: medians):')
    print(f'{"subsystem":>9} {"p50":>7} {"p99":>7} {"max":>7} | {"forecast":>8} {"dispatch":>8} {"LP build":>8} {"LP solve":>8} {"simplex it":>10} {"rest":>6} | band     load avg')
    for r in table:
        print(f'{r["subsystem"]:>9} {r["p50"]:7.1f} {r["p99"]:7.1f} {r["max"]:7.1f} | {r["forecast"]:8.1f} {r["dispatch"]:8.1f} {r["build"]:8.1f} '
              f'{r["solve"]:8.1f} {r["iterations"]:10.0f} {r["rest"]:6.1f} | {r["band"]:8} {r["load"]:.1f}')
    if runs:
        print(f'\n{"run":38} {"workers":>7} {"requests":>8} {"errors":>6} {"req/s":>7} {"p50 ms":>7} {"p99 ms":>7} {"max ms":>7} {"server CPU":>10} {"locust CPU":>10} {"load avg":>8}')
        for name, w, r in runs:
            print(f'{name:38} {w:7d} {r["requests"]:8d} {r["failures"]:6d} {r["rps"]:7.1f} {r["p50"]:7.0f} {r["p99"]:7.0f} {r["max"]:7.0f} '
                  f'{r["server_cores"]:6.2f} cores {r["locust_cpu"]:9.0%} {r["load_before"]:8.1f}')
        for name, w, r in runs:
            for f in r['failure_kinds'][:5]: print(f'  {name}, {w} workers: {f}')
        for e in errors: print(f'  server error: {e}')
        sat = [r for n, w, r in runs if n.startswith('saturated')]
        if len(sat) == 2: print(f'\nsaturated throughput, 2 workers / 1 worker: {sat[1]["rps"] / sat[0]["rps"]:.2f} (floor 1.7)')

if __name__ == '__main__': main()
