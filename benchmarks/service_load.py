"""Helpers of `benchmarks/service.py` (which runs everything in one run): start `hpo-serve` on a free port of
127.0.0.1 and stop it, run locust headless against it (`benchmarks/locustfile.py`) and read its statistics.

    python benchmarks/service_load.py [--model DIR] ...   # the same as benchmarks/service.py
"""
import csv, os, resource, socket, subprocess, sys, time
import numpy as np
from pathlib import Path

HERE = Path(__file__).resolve().parent

HOURS = 337   # hours of load history in a request

def _requests_data():
    "The 2023 ONS load of every subsystem (read once) and the hourly origins with two weeks of history before them."
    global _DATA
    if '_DATA' not in globals():
        from hpo.etl import default_data_dir, SUBSYSTEMS
        from hpo.forecast import read_load_files, load_series
        series = load_series(read_load_files([default_data_dir()/'ons'/'curva_carga'/'CURVA_CARGA_2023.csv']))
        subs = [s for s in os.environ.get('HPO_LOCUST_SUBSYSTEMS', ','.join(SUBSYSTEMS)).split(',') if s]
        ix = series['SE'].index
        values = {s: series[s].reindex(ix).to_numpy(float) for s in subs}
        known = np.flatnonzero(np.all([np.isfinite(v) for v in values.values()], axis=0))   # hours with every subsystem's load known
        _DATA = subs, ix, values, known[(known >= HOURS - 1) & (known < len(ix) - 48)]
    return _DATA

def request_body(k:int, first:int=0) -> dict:
    "Request k: subsystem k mod 4 at hourly origin `first` + k div 4 (origins: the hours of 2023 whose load is known, wrapping around)."
    subs, ix, values, origins = _requests_data()
    sub, i = subs[k % len(subs)], origins[(first + k // len(subs)) % len(origins)]
    h = values[sub][i - HOURS + 1:i + 1]
    return {'subsystem': sub, 'history_start': ix[i - HOURS + 1].isoformat(), 'load_mw': [None if x != x else float(x) for x in h]}

def request_index(sub:str, origin:int) -> int:
    "The k of `request_body` asking for `sub` at hourly origin `origin` (with first = 0)."
    subs = _requests_data()[0]
    return len(subs) * origin + subs.index(sub)

def free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def serve(registry:Path, workers:int, warm_origins=(4800,), log:Path|None=None):
    """`hpo-serve --workers N` on a free port, once every worker has answered requests at `warm_origins` (hourly origin
    numbers); (process, url). Its output (uvicorn's log: an error's traceback) goes to `log`, else nowhere."""
    import httpx
    port = free_port(); url = f'http://127.0.0.1:{port}'
    out = open(log, 'w') if log else subprocess.DEVNULL
    p = subprocess.Popen(['hpo-serve', '--registry', str(registry), '--port', str(port), '--workers', str(workers)],
                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    for _ in range(1500):
        try:
            if httpx.get(url + '/health', timeout=1).status_code == 200: break
        except httpx.TransportError: time.sleep(0.2)
    subs = _requests_data()[0]
    for _ in range(3 * workers):   # warm every worker on every subsystem and on the decks of the months the runs reach (each read once per process)
        for o in warm_origins:
            for sub in subs: httpx.post(url + '/v1/predict-and-optimize', json=request_body(request_index(sub, o)), timeout=120)
    return p, url

def server_errors(log:Path) -> list:
    "The last line of each traceback in a server's log (`serve`), e.g. 'KeyError: ...'."
    lines, out = Path(log).read_text(errors='replace').splitlines() if Path(log).exists() else [], []
    for i, l in enumerate(lines):
        if l.startswith('Traceback'):
            j = next((k for k in range(i + 1, len(lines)) if lines[k] and not lines[k].startswith((' ', 'Traceback', 'The above', 'During'))), None)
            if j is not None: out.append(lines[j][:200])
    return out

def stop(p):
    "Stop the server and its workers (its process group)."
    import signal
    os.killpg(p.pid, signal.SIGTERM)
    try: p.wait(15)
    except subprocess.TimeoutExpired: os.killpg(p.pid, signal.SIGKILL); p.wait()

def group_cpu(pgid:int) -> float:
    "CPU seconds used so far by the live processes of process group `pgid` (a server and its workers)."
    total = 0
    for d in os.listdir('/proc'):
        if not d.isdigit(): continue
        try: f = open(f'/proc/{d}/stat').read().rsplit(')', 1)[1].split()
        except OSError: continue
        if int(f[2]) == pgid: total += int(f[11]) + int(f[12])   # pgrp, utime, stime
    return total / os.sysconf('SC_CLK_TCK')

def locust(url:str, users:int, seconds:float, wait:str, out:Path, first:int=0, server=None) -> dict:
    """Run locust headless (requests from hourly origin `first` on); the aggregated row of its statistics, the CPU locust
    and the `server` process group used (in cores: CPU seconds per second) and the load average before."""
    env = {**os.environ, 'HPO_LOCUST_WAIT': wait, 'HPO_LOCUST_FROM': str(first)}
    load, before, t0 = os.getloadavg()[0], resource.getrusage(resource.RUSAGE_CHILDREN), time.time()
    cpu0 = group_cpu(server.pid) if server else 0.0
    subprocess.run(['locust', '-f', str(HERE/'locustfile.py'), '--headless', '-u', str(users), '-r', str(users), '-t', f'{int(seconds)}s',
                    '--host', url, '--csv', str(out), '--only-summary', '--stop-timeout', '30'], capture_output=True, text=True, env=env)
    after, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.time() - t0
    server_cores = (group_cpu(server.pid) - cpu0) / wall if server else float('nan')
    rows = list(csv.DictReader(open(f'{out}_stats.csv')))
    agg = [x for x in rows if x['Name'] == 'Aggregated'][0]
    fails = [f"{x['Occurrences']} x {x['Error'][:160]}" for x in csv.DictReader(open(f'{out}_failures.csv'))] if Path(f'{out}_failures.csv').exists() else []
    return {'requests': int(agg['Request Count']), 'failures': int(agg['Failure Count']), 'rps': float(agg['Requests/s']),
            'p50': float(agg['50%']), 'p99': float(agg['99%']), 'max': float(agg['Max Response Time']),
            'locust_cpu': (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / wall, 'load_before': load, 'failure_kinds': fails, 'server_cores': server_cores}

if __name__ == '__main__':
    import runpy
    sys.argv[0] = str(HERE/'service.py'); runpy.run_path(str(HERE/'service.py'), run_name='__main__')
