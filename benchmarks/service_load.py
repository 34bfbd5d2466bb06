"""Service load test with locust (headless) against `hpo-serve` on 127.0.0.1, all measured in one run on this machine:
the saturated throughput (users with no wait) with 1 worker process and with 2, then with 2 workers 20 users and 50
users each waiting 1-2 s between requests.

    python benchmarks/service_load.py [--model DIR] [--saturate-users 8] [--seconds 30] [--wait-seconds 60]

Without --model a small LightGBM-only model of the four subsystems is trained first; with --model, a model folder
written by hpo-train is registered. Floors (the service issue): throughput with 2 workers >= 1.7 x with 1; 20 users:
p50 <= 300 ms, p99 <= 1 s, zero errors; 50 users: zero errors.
"""
import argparse, csv, os, socket, subprocess, sys, tempfile, time
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
from pathlib import Path

HERE = Path(__file__).resolve().parent

def free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def serve(registry:Path, workers:int):
    import httpx
    port = free_port(); url = f'http://127.0.0.1:{port}'
    p = subprocess.Popen(['hpo-serve', '--registry', str(registry), '--port', str(port), '--workers', str(workers)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(600):
        try:
            if httpx.get(url + '/health', timeout=1).status_code == 200: break
        except httpx.TransportError: time.sleep(0.2)
    body = {'subsystem': 'SE', 'history_start': '2023-08-01T00:00:00Z', 'load_mw': [40000.0] * 337}
    for _ in range(4 * workers): httpx.post(url + '/v1/predict-and-optimize', json=body, timeout=60)   # warm every worker
    return p, url

def stop(p):
    import signal
    os.killpg(p.pid, signal.SIGTERM)
    try: p.wait(15)
    except subprocess.TimeoutExpired: os.killpg(p.pid, signal.SIGKILL); p.wait()

def locust(url:str, users:int, seconds:float, wait:str, out:Path) -> dict:
    "Run locust headless; the aggregated row of its statistics."
    env = {**os.environ, 'HPO_LOCUST_WAIT': wait}
    r = subprocess.run(['locust', '-f', str(HERE/'locustfile.py'), '--headless', '-u', str(users), '-r', str(users), '-t', f'{int(seconds)}s',
                        '--host', url, '--csv', str(out), '--only-summary', '--stop-timeout', '30'], capture_output=True, text=True, env=env)
    rows = list(csv.DictReader(open(f'{out}_stats.csv')))
    agg = [x for x in rows if x['Name'] == 'Aggregated'][0]
    return {'requests': int(agg['Request Count']), 'failures': int(agg['Failure Count']), 'rps': float(agg['Requests/s']),
            'p50': float(agg['50%']), 'p99': float(agg['99%']), 'max': float(agg['Max Response Time'])}

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--model', help='model folder from hpo-train (default: train a small one)')
    p.add_argument('--saturate-users', type=int, default=8); p.add_argument('--seconds', type=float, default=30)
    p.add_argument('--wait-seconds', type=float, default=60)
    a = p.parse_args()
    from hpo.etl import default_data_dir
    from hpo.forecast import read_load_files, load_series, train
    from hpo.mlops.registry import Registry
    with tempfile.TemporaryDirectory() as d:
        reg = Registry(Path(d)/'models', create=True)
        if a.model: model = a.model
        else:
            series = load_series(read_load_files([default_data_dir()/'ons'/'curva_carga'/'CURVA_CARGA_2023.csv']))
            model = train(series, '2023-06-01', '2023-02-01', val_days=30, epochs=0,
                          lgbm_params={'num_iterations': 10, 'num_leaves': 15, 'max_bin': 31}, log=lambda *x, **k: None)
        reg.promote(reg.register(model))
        runs = []
        for workers in (1, 2):
            proc, url = serve(reg.root, workers)
            try:
                runs.append((f'saturated, {a.saturate_users} users, no wait', workers, locust(url, a.saturate_users, a.seconds, 'none', Path(d)/f'sat{workers}')))
                if workers == 2:
                    for users in (20, 50):
                        runs.append((f'{users} users, 1-2 s between requests', workers, locust(url, users, a.wait_seconds, '1-2', Path(d)/f'u{users}')))
            finally: stop(proc)
    print(f'\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end')
    print(f'{"run":38} {"workers":>7} {"requests":>8} {"errors":>6} {"req/s":>7} {"p50 ms":>7} {"p99 ms":>7} {"max ms":>7}')
    for name, w, r in runs:
        print(f'{name:38} {w:7d} {r["requests"]:8d} {r["failures"]:6d} {r["rps"]:7.1f} {r["p50"]:7.0f} {r["p99"]:7.0f} {r["max"]:7.0f}')
    sat = [r for n, w, r in runs if n.startswith('saturated')]
    print(f'\nthroughput 2 workers / 1 worker: {sat[1]["rps"] / sat[0]["rps"]:.2f} (floor 1.7)')

if __name__ == '__main__': main()
