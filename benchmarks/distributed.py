"""Distributed benchmark: the same jobs in one process and on a local Dask cluster of 2 worker processes (one thread
each), with the cluster's start-up measured apart; then, from the per-task times, the makespan of the job on 8, 32 and
128 cores (longest task first onto the least-loaded core), for the job as run and for a full-size version of it.

    python benchmarks/distributed.py [--data FILE_OR_FOLDER] [--origins 2023-06-01,2023-07-01] [--train-start 2022-01-01]
                                     [--val-days 60] [--subsystems N,NE,S,SE] [--horizons 1,24]
                                     [--replay-data ../shared/data] [--replay-start 2023-06-01] [--replay-end 2023-06-30]
                                     [--jobs backtest,replay,train] [--train-data ../shared/data] [--train-end 2023-01-01] [--renewables-end 2022-01-01]

Default data: the bundled ONS load files (2022-2023), every subsystem, horizons 1 and 24, LightGBM as trained (500
trees at most); the replay: June 2023 of ../shared/data (one task per day). On the project's 2-core machine the floor is a speed-up of 1.7 with 2 workers (start-up excluded);
the simulated sizes assume tasks as long as measured here and no waiting for data.

The job `train` (not run by default: about 10 minutes here) is the full training of `hpo-train` (load: one task per
subsystem and horizon plus the LSTM; wind and solar: one task per series and horizon) on 2 local workers, with each
task's compute time taken from Dask's task stream; it has no in-process run (`hpo-train` prints that time).
"""
import argparse, heapq, importlib, os, sys, time
from pathlib import Path
# this file is named like the `distributed` package: keep its folder off the import path
sys.path = [p for p in sys.path if Path(p or '.').resolve() != Path(__file__).resolve().parent]
import pandas as pd

CORES = (8, 32, 128)

def lpt_makespan(times, cores:int) -> float:
    "Makespan of tasks of these durations on `cores` identical cores, longest task first onto the least-loaded core."
    load = [0.0] * cores
    for t in sorted(times, reverse=True): heapq.heapreplace(load, load[0] + t)
    return max(load)

def timed_tasks(func, tasks, setup, args) -> tuple:
    "Each task's seconds and result, run one after the other in this process (after `setup(*args)`)."
    setup(*args); times, results = [], []
    for t in tasks:
        t0 = time.perf_counter(); results.append(func(*t)); times.append(time.perf_counter() - t0)
    return times, results

def bench_backtest(a) -> dict:
    "The rolling-origin backtest: its tasks one after the other in this process (timed one by one), then on 2 local workers."
    from dataclasses import asdict
    import hpo.forecast as fc
    from hpo.core import task_client
    hs, origins = fc.parse_horizons(a.horizons, 24), fc.parse_origins(a.origins)
    importlib.import_module('lightgbm')   # the library the tasks load: loaded here before the timing, in the workers at start-up
    c0, t0 = time.process_time(), time.perf_counter()
    series, src = fc.load_series_from(a.data, a.subsystems)     # what `rolling_backtest` does in this process, task by task
    args = (str(src.resolve()), fc.data_fingerprint(series), a.subsystems, asdict(fc.FeatureSpec()),
            dict(train_start=str(pd.Timestamp(a.train_start, tz='UTC')), val_days=a.val_days, bag_from=fc.BAG_FROM, context=True))
    subs = [s for s in fc.SUBSYSTEMS if s in series]
    tasks = [(str(o), str(e), s, h) for o, e in fc.origin_windows(origins) for s in subs for h in hs]
    times, rows = timed_tasks(fc.backtest_task, tasks, fc.backtest_setup, args)
    one = pd.DataFrame([r for r in rows if r is not None])
    serial, serial_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    with task_client(workers=2) as client:
        for m in ('hpo.forecast', 'lightgbm'): client.run(importlib.import_module, m)   # the workers' imports count as start-up
        startup = time.perf_counter() - t0
        c0, t0 = client.run(time.process_time), time.perf_counter()
        two = fc.rolling_backtest(a.data, origins, hs, a.subsystems, a.train_start, a.val_days, client=client, log=lambda *x, **k: None)
        parallel, c1 = time.perf_counter() - t0, client.run(time.process_time)
        workers_cpu = sum(c1[w] - c0[w] for w in c1)
    pd.testing.assert_frame_equal(one, two)   # the same rows wherever they were computed
    return dict(job=f'backtest, {len(origins)} origins', tasks=len(tasks), serial=serial, startup=startup, two_workers=parallel,
                serial_cpu=serial_cpu, workers_cpu=workers_cpu, times=times,
                full=('12-origin backtest', times * (12 // len(origins) or 1)))

def bench_replay(a) -> dict:
    """A month of replayed days as `hpo-replay` runs them: in this process (the data read once, the days one after the
    other), then on 2 local workers (this process names the files and their fingerprint; each worker reads them once)."""
    import hpo.replay as rp
    from hpo.core import task_client
    dates = rp.replay_dates(a.replay_start, a.replay_end)
    importlib.import_module('highspy')   # the solver the tasks load: loaded here before the timing, in the workers at start-up
    c0, t0 = time.process_time(), time.perf_counter()
    one, days = rp.replay(rp.load_replay_data(a.replay_data, None, dates), dates, skip_missing=True, log=lambda *x: None)
    serial, serial_cpu = time.perf_counter() - t0, time.process_time() - c0
    times = days['seconds'].dropna().tolist()   # each day's seconds (the first one's include reading the deck and the CMO)
    t0 = time.perf_counter()
    with task_client(workers=2) as client:
        for m in ('hpo.replay', 'highspy'): client.run(importlib.import_module, m)
        startup = time.perf_counter() - t0
        c0, t0 = client.run(time.process_time), time.perf_counter()
        two, _ = rp.replay(rp.replay_spec(a.replay_data, None, dates), dates, skip_missing=True, client=client, log=lambda *x: None)
        parallel, c1 = time.perf_counter() - t0, client.run(time.process_time)
        workers_cpu = sum(c1[w] - c0[w] for w in c1)
    pd.testing.assert_frame_equal(one, two)
    return dict(job=f'replay, {len(dates)} days', tasks=len(dates), serial=serial, startup=startup, two_workers=parallel,
                serial_cpu=serial_cpu, workers_cpu=workers_cpu, times=times, full=('a year of replays', times * (365 // len(times) or 1)))

def bench_train(a) -> dict:
    "The full training on 2 local workers, as `hpo-train --workers 2` runs it; per-task compute times from Dask's task stream."
    from distributed import get_task_stream
    from hpo.core import task_client
    from hpo.forecast import load_series_from, train
    from hpo.renewables import renewables_from, train_renewables
    data = Path(a.train_data)
    t0 = time.perf_counter()
    with task_client(workers=2) as client:
        client.run(importlib.import_module, 'hpo.netload')
        startup = time.perf_counter() - t0
        t0 = time.perf_counter()
        with get_task_stream(client) as ts:
            loads, src = load_series_from(str(data/'ons'/'curva_carga'), None)
            fc = train(loads, a.train_end, client=client, data=str(src), log=lambda *x, **k: print(*x, flush=True) if 'LSTM' in str(x[0]) or str(x[0]).startswith('  96/') else None)
            ren, rsrc = renewables_from(str(data), ['wind', 'solar'])
            rf = train_renewables(ren, a.renewables_end, client=client, data=str(rsrc), log=None)
        parallel = time.perf_counter() - t0
    times = [sum(ss['stop'] - ss['start'] for ss in x['startstops'] if ss['action'] == 'compute') for x in ts.data]
    times = [t for t in times if t > 0]
    return dict(job='full training', tasks=len(times), serial=sum(times), startup=startup, two_workers=parallel, serial_cpu=float('nan'),
                workers_cpu=float('nan'), times=times, full=('full training', times), floor=False)

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data', default=None, help='load file or folder of ONS files (default: the bundled data)')
    p.add_argument('--origins', default='2023-06-01,2023-07-01'); p.add_argument('--train-start', default='2022-01-01')
    p.add_argument('--val-days', type=int, default=60); p.add_argument('--subsystems', default=None)
    p.add_argument('--horizons', default='1,24')
    p.add_argument('--replay-data', default=str(Path(__file__).resolve().parents[2]/'shared'/'data'), help='data folder of the replay')
    p.add_argument('--replay-start', default='2023-06-01'); p.add_argument('--replay-end', default='2023-06-30')
    p.add_argument('--jobs', default='backtest,replay', help='which jobs to measure (backtest, replay, train)')
    p.add_argument('--train-data', default=str(Path(__file__).resolve().parents[2]/'shared'/'data'), help='data folder of the full training')
    p.add_argument('--train-end', default='2023-01-01')
    p.add_argument('--renewables-end', default='2022-01-01', help="the wind and solar models' training end (../shared/data has no 2022 balance)")
    a = p.parse_args()
    load0 = os.getloadavg()[0]
    jobs = [f(a) for name, f in (('backtest', bench_backtest), ('replay', bench_replay), ('train', bench_train)) if name in a.jobs.split(',')]
    print(f'\nload average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, on {os.cpu_count()} cores '
          '(CPU s below wall s: the run shared the cores with other work)')
    print(f'\n{"job":28} {"tasks":>5} {"1 process":>10} {"(CPU)":>7} {"2 workers":>10} {"(CPU)":>7} {"speed-up":>8} {"start-up":>8}   task s (min/median/max)')
    for j in jobs:
        t = pd.Series(j['times'])
        if j.get('floor', True):
            print(f'{j["job"]:28} {j["tasks"]:5d} {j["serial"]:9.1f}s {j["serial_cpu"]:6.1f}s {j["two_workers"]:9.1f}s {j["workers_cpu"]:6.1f}s '
                  f'{j["serial"] / j["two_workers"]:8.2f} {j["startup"]:7.1f}s   {t.min():.2f}/{t.median():.2f}/{t.max():.2f}')
        else:   # no in-process run: the sum of the task times stands for it
            print(f'{j["job"]:28} {j["tasks"]:5d} {"(tasks: " + format(j["serial"], ".0f") + "s)":>18} {j["two_workers"]:9.1f}s {"":>7} '
                  f'{"":>8} {j["startup"]:7.1f}s   {t.min():.2f}/{t.median():.2f}/{t.max():.2f}')
    print(f'\nsimulated makespan (s), longest task first; start-up not included')
    print(f'{"job":28} {"tasks":>5} {"1 core":>9} ' + ' '.join(f'{c:>3} cores' for c in CORES))
    for j in jobs:
        for name, times in [(j['job'], j['times'])] + ([j['full']] if j['full'][0] != j['job'] else []):
            print(f'{name:28} {len(times):5d} {sum(times):8.1f}s ' + ' '.join(f'{lpt_makespan(times, c):8.1f}s' for c in CORES))
    if any(j['serial'] / j['two_workers'] < 1.7 for j in jobs if j.get('floor', True)): print('\nbelow the floor: speed-up < 1.7 with 2 workers', file=sys.stderr)

if __name__ == '__main__': main()
