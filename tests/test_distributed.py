"""HPO on a real Dask cluster: a `dask scheduler` and two `dask worker` processes on 127.0.0.1 (separate processes, as on
a cluster of machines). A run through `--scheduler` gives the same rows as the run in one process, also when a worker
is killed in the middle of it; a scheduler that does not answer gives one line and exit status 2."""
import os, signal, subprocess, sys, threading, time
from pathlib import Path

import pandas as pd
import pytest

from conftest import free_port

pytest.importorskip('distributed')
ENV = {**os.environ, 'OMP_NUM_THREADS': '1', 'OMP_WAIT_POLICY': 'PASSIVE', 'PYTHONWARNINGS': 'ignore'}

# a small backtest: the North, four monthly origins, horizons 1 and 24, 100 trees at most per model (8 tasks)
ORIGINS = ['2022-09-01', '2022-10-01', '2022-11-01', '2022-12-01']
SMALL = dict(horizons=(1, 24), subsystems='N', train_start='2022-01-15', val_days=30, log=lambda *a, **k: None, num_iterations=100)
CLI = ['--origins', ','.join(ORIGINS), '--subsystems', 'N', '--train-start', '2022-01-15', '--val-days', '30',
       '--params', '{"num_iterations": 100}']


class DaskCluster:
    "A `dask scheduler` and `dask worker` processes (no nanny: killing one kills the worker) on free ports of 127.0.0.1."
    def __init__(self, tmp:Path, n_workers:int=2):
        self.tmp, self.port, self.workers = Path(tmp), free_port(), []
        self.address = f'tcp://127.0.0.1:{self.port}'
        self.scheduler = self._start('scheduler', ['dask', 'scheduler', '--host', '127.0.0.1', '--port', str(self.port), '--no-dashboard'])
        self.ensure_workers(n_workers)

    def _start(self, name, cmd):
        log = open(self.tmp/f'{name}.log', 'w')
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=ENV, start_new_session=True)

    def n_connected(self) -> int:
        from distributed import Client
        with Client(self.address, timeout=20, set_as_default=False) as c: return len(c.scheduler_info(n_workers=-1)['workers'])

    def ensure_workers(self, n:int=2, timeout:float=60):
        "Start workers until `n` of them run, and wait until the scheduler knows them all."
        self.workers = [w for w in self.workers if w.poll() is None]
        while len(self.workers) < n:
            k = len(list(self.tmp.glob('worker-*.log')))
            self.workers.append(self._start(f'worker-{k}', ['dask', 'worker', self.address, '--nthreads', '1', '--no-nanny',
                                                             '--no-dashboard', '--host', '127.0.0.1', '--name', f'w{k}']))
        deadline = time.time() + timeout
        while self.n_connected() < n:
            if time.time() > deadline: raise RuntimeError(f'{n} Dask workers did not connect within {timeout} s')
            time.sleep(0.3)

    def kill_worker(self, i:int=0):
        w = self.workers[i]; os.killpg(w.pid, signal.SIGKILL); w.wait()

    def close(self):
        "Stop the workers, then the scheduler (SIGTERM, then SIGKILL after 5 s)."
        for group in (self.workers, [self.scheduler]):
            for p in group:
                if p.poll() is None: os.killpg(p.pid, signal.SIGTERM)
            for p in group:
                try: p.wait(5)
                except subprocess.TimeoutExpired: os.killpg(p.pid, signal.SIGKILL); p.wait()


@pytest.fixture(scope='module')
def dask_cluster(tmp_path_factory):
    "A running scheduler with two workers for this module's tests; `.address` is what `--scheduler` takes."
    cluster = DaskCluster(tmp_path_factory.mktemp('dask'))
    try: yield cluster
    finally: cluster.close()


@pytest.fixture(scope='module')
def in_process():
    "The small backtest computed in this process (no Dask)."
    from hpo.forecast import rolling_backtest
    return rolling_backtest(None, ORIGINS, **SMALL)


def test_backtest_on_the_cluster_equals_in_process(dask_cluster, in_process):
    from hpo.core import task_client
    from hpo.forecast import rolling_backtest
    dask_cluster.ensure_workers(2)
    with task_client(scheduler=dask_cluster.address) as client:
        on_cluster = rolling_backtest(None, ORIGINS, client=client, **SMALL)
    pd.testing.assert_frame_equal(on_cluster, in_process)
    assert len(in_process) == len(ORIGINS) * 2


def test_backtest_survives_a_killed_worker(dask_cluster, in_process, tmp_path):
    dask_cluster.ensure_workers(2)
    out = tmp_path/'bt.csv'
    p = subprocess.Popen(['hpo-backtest', *CLI, '--scheduler', dask_cluster.address, '--out', str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**ENV, 'PYTHONUNBUFFERED': '1'})
    first = p.stdout.readline()            # the first origin is scored: the others are still running or queued
    assert 'origin 2022-09-01' in first, first + p.stderr.read()
    dask_cluster.kill_worker(0)
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 0, stderr
    assert dask_cluster.workers[0].poll() is not None   # the worker really died during the run
    expected = tmp_path/'expected.csv'; in_process.to_csv(expected, index=False)
    pd.testing.assert_frame_equal(pd.read_csv(out), pd.read_csv(expected))
    dask_cluster.ensure_workers(2)         # leave two workers for the next test


def test_unreachable_scheduler_is_one_line_and_status_2(tmp_path):
    address = f'tcp://127.0.0.1:{free_port()}'   # nothing listens there
    r = subprocess.run(['hpo-backtest', *CLI, '--scheduler', address, '--out', str(tmp_path/'x.csv')], capture_output=True, text=True, env=ENV)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and 'Traceback' not in r.stderr, r.stderr
    assert r.stderr.startswith(f'hpo-backtest: error: cannot reach the Dask scheduler at {address}'), r.stderr
    assert not (tmp_path/'x.csv').exists()


def test_worker_refuses_other_data(dask_cluster):
    "A worker whose data differ from the caller's (here: a fingerprint that matches nothing) stops the run with a `DataError`."
    from dataclasses import asdict
    from hpo.core import task_client, parallel_map
    from hpo.etl import default_data_dir
    import hpo.forecast as fc
    dask_cluster.ensure_workers(2)
    args = (str(default_data_dir()/'ons'/'curva_carga'), 'f' * 64, 'N', asdict(fc.FeatureSpec()), dict(train_start='2022-01-15', val_days=30))
    with task_client(scheduler=dask_cluster.address) as client:
        with pytest.raises(fc.DataError, match='differ from the ones the run was started with'):
            list(parallel_map(fc.backtest_task, [('2022-12-01', '2023-01-01', 'N', 1)], initializer=fc.backtest_setup, initargs=args,
                              client=client, retries=0))


REPLAY_DAYS = ['--start', '2023-03-01', '--end', '2023-03-06']   # six days of the bundled 2023 balance


def test_replay_on_the_cluster_equals_in_process(dask_cluster, tmp_path):
    "`hpo-replay --scheduler` writes the same rows and metrics as the replay in this process, also when a worker dies mid-run."
    dask_cluster.ensure_workers(2)
    here = subprocess.run(['hpo-replay', *REPLAY_DAYS, '--out', str(tmp_path/'here')], capture_output=True, text=True, env=ENV)
    assert here.returncode == 0, here.stderr
    p = subprocess.Popen(['hpo-replay', *REPLAY_DAYS, '--scheduler', dask_cluster.address, '--out', str(tmp_path/'cluster')],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**ENV, 'PYTHONUNBUFFERED': '1'})
    first = p.stdout.readline()            # the first day is back: the others are running or queued
    assert first.startswith('hpo-replay: 2023-03-01'), first + p.stderr.read()
    dask_cluster.kill_worker(0)
    _, stderr = p.communicate(timeout=180)
    assert p.returncode == 0, stderr
    assert dask_cluster.workers[0].poll() is not None   # the worker really died during the run
    for name in ('replay.csv', 'replay_metrics.json'):
        assert (tmp_path/'cluster'/name).read_text() == (tmp_path/'here'/name).read_text(), name
    days = [pd.read_csv(tmp_path/d/'replay_days.csv').drop(columns=['seconds', 'dispatch_s']) for d in ('here', 'cluster')]
    pd.testing.assert_frame_equal(*days)
    dask_cluster.ensure_workers(2)


def _tiny_train():
    "A tiny training run on the North: 2 horizons, 20 trees at most, a small LSTM for one epoch (in one process: one LightGBM thread)."
    from hpo.forecast import FeatureSpec
    return dict(train_end='2023-01-01', train_start='2022-01-15', val_days=60, epochs=1, stride=12, spec=FeatureSpec(horizons=2),
                lgbm_params={'num_iterations': 20}, lstm_params={'units': 8, 'dense': 16}, log=lambda *a, **k: None, n_jobs=1)


def test_train_on_the_cluster_equals_in_process(dask_cluster):
    "`train(..., client=)` through the scheduler (series read by the workers from the file, or sent from memory) fits the models of one process."
    import numpy as np
    from hpo.core import task_client
    from hpo.forecast import load_series_from, train, _booster_text
    dask_cluster.ensure_workers(2)
    series, src = load_series_from(None, 'N')
    kw = _tiny_train()
    here = train(series, workers=1, **kw)
    lines = []
    with task_client(scheduler=dask_cluster.address) as client:
        from_file = train(series, client=client, data=str(src), **{**kw, 'log': lambda *a, **k: lines.append(a[0])})
        from_memory = train(series, client=client, **kw)
        killed = []
        def kill_at_first_result(line):      # a worker dies while the other tasks are running or queued
            if 'tasks done' in line and not killed: dask_cluster.kill_worker(0); killed.append(line)
        after_kill = train(series, client=client, data=str(src), **{**kw, 'log': kill_at_first_result})
    assert killed and dask_cluster.workers[0].poll() is not None   # the worker really died during the run
    dask_cluster.ensure_workers(2)
    assert [l.split(':')[0].strip() for l in lines if 'tasks done' in l] == [f'{k}/3 tasks done' for k in (1, 2, 3)], lines
    for fc in (from_file, from_memory, after_kill):
        assert [_booster_text(b) for b in fc.boosters['N']] == [_booster_text(b) for b in here.boosters['N']]   # the same trees
        # the LSTM: the same weights (Keras's seeds drawn apart from the worker's other threads, see the forecast page)
        for k, w in here.lstm.items(): np.testing.assert_array_equal(fc.lstm[k], w, err_msg=k)
        assert (fc.blend, fc.bands, fc.band_method) == (here.blend, here.bands, here.band_method)
        pd.testing.assert_frame_equal(fc.forecast(series), here.forecast(series), check_exact=True)


def test_tune_on_the_cluster_equals_in_process(dask_cluster, tmp_path):
    "`tune_lstm` on the cluster (one task per trial and fold) gives the table of one process; `hpo-tune --scheduler` writes its best setting."
    import json
    from hpo.core import task_client
    from hpo.forecast import load_series_from, design_of, tune_lstm
    dask_cluster.ensure_workers(2)
    series, src = load_series_from(None, 'N')
    designs = {s: design_of(series, s) for s in series}
    kw = dict(val_days=60, trials=2, epochs=1, stride=12, folds=2)
    best, table = tune_lstm(designs, '2022-01-15', '2023-01-01', **kw)
    lines = []
    with task_client(scheduler=dask_cluster.address) as client:
        best_c, table_c = tune_lstm(designs, '2022-01-15', '2023-01-01', client=client, data=str(src), log=lines.append, **kw)
    pd.testing.assert_frame_equal(table_c, table, check_exact=True)
    assert best_c == best and list(table.columns) == ['units', 'dense', 'dropout', 'lr', 'val_loss', 'fold_0', 'fold_1']
    assert [l.split(':')[0].strip() for l in lines] == [f'{k}/4 tasks done' for k in range(1, 5)], lines
    out = tmp_path/'lstm_params.json'
    r = subprocess.run(['hpo-tune', '--subsystems', 'N', '--train-start', '2022-01-15', '--train-end', '2023-01-01', '--val-days', '60',
                        '--trials', '2', '--epochs', '1', '--stride', '12', '--folds', '2', '--scheduler', dask_cluster.address, '--out', str(out)],
                       capture_output=True, text=True, env=ENV)
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text()) == best


def test_renewables_on_the_cluster_equal_in_process(dask_cluster):
    "The wind and solar models fitted on the cluster (series read by the workers from the balance files, or sent from memory) are those of one process."
    from hpo.core import task_client
    from hpo.core import json_safe
    from hpo.renewables import renewables_from, train_renewables
    dask_cluster.ensure_workers(2)
    series, src = renewables_from(None, ['wind', 'solar'])
    kw = dict(train_end='2023-07-01', train_start='2023-01-01', val_days=45, horizons=(1, 6), log=None)
    here = train_renewables(series, workers=1, **kw)
    with task_client(scheduler=dask_cluster.address) as client:
        runs = [train_renewables(series, client=client, data=str(src), **kw), train_renewables(series, client=client, **kw)]
    for rf in runs:
        assert rf.keys == here.keys and len(rf.keys) == 8
        for k in here.keys:
            for h in (1, 6):
                assert rf.boosters[k][h].model_to_string() == here.boosters[k][h].model_to_string(), (k, h)
                pd.testing.assert_frame_equal(rf.validation[k][h], here.validation[k][h], check_exact=True)
        assert json_safe(rf.bands) == json_safe(here.bands)


def test_hpo_train_through_the_scheduler(dask_cluster, tmp_path):
    "`hpo-train --scheduler` fits one task per model on the cluster: its load models are those `train` fits in one process (one thread)."
    from hpo.forecast import load_series_from, train, _booster_text
    from hpo.netload import load_model
    dask_cluster.ensure_workers(2)
    args = ['--targets', 'load', '--subsystems', 'N', '--epochs', '0', '--train-start', '2022-06-01', '--train-end', '2023-01-01', '--val-days', '30']
    r = subprocess.run(['hpo-train', *args, '--scheduler', dask_cluster.address, '--out', str(tmp_path/'m')], capture_output=True, text=True, env=ENV)
    assert r.returncode == 0, r.stderr
    assert 'hpo-train: 2 Dask workers at ' + dask_cluster.address in r.stdout, r.stdout
    m = load_model(tmp_path/'m')
    series, _ = load_series_from(None, 'N')
    here = train(series, '2023-01-01', '2022-06-01', val_days=30, epochs=0, n_jobs=1, workers=1, log=lambda *a, **k: None)
    assert [_booster_text(b) for b in m.load.boosters['N']] == [_booster_text(b) for b in here.boosters['N']]
