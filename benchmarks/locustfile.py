"""Locust users for `benchmarks/service_load.py`: each posts `POST /v1/predict-and-optimize` for the four subsystems in
turn, with real 2023 ONS load histories ending at varied origins. `HPO_LOCUST_WAIT` is `none` (back to back: the
saturated throughput) or `1-2` (each user waits 1 to 2 s between requests, like an operator's screen refreshing)."""
import os
import numpy as np
from locust import HttpUser, task, between, constant

from hpo.etl import default_data_dir, SUBSYSTEMS
from hpo.forecast import read_load_files, load_series

SERIES = load_series(read_load_files([default_data_dir()/'ons'/'curva_carga'/'CURVA_CARGA_2023.csv']))
SUBS = [s for s in os.environ.get('HPO_LOCUST_SUBSYSTEMS', ','.join(SUBSYSTEMS)).split(',') if s]
_rng = np.random.default_rng(0)
ORIGINS = [SERIES['SE'].index[i] for i in _rng.integers(24 * 220, len(SERIES['SE']) - 48, 100)]

def body(sub, origin):
    h = SERIES[sub][:origin].iloc[-337:]
    return {'subsystem': sub, 'history_start': h.index[0].isoformat(), 'load_mw': [None if np.isnan(x) else float(x) for x in h]}

BODIES = [body(s, o) for o in ORIGINS for s in SUBS]

class Operator(HttpUser):
    wait_time = constant(0) if os.environ.get('HPO_LOCUST_WAIT', 'none') == 'none' else between(1, 2)

    def on_start(self): self.k = int(_rng.integers(len(BODIES)))

    @task
    def predict_and_optimize(self):
        self.k = (self.k + 1) % len(BODIES)
        with self.client.post('/v1/predict-and-optimize', json=BODIES[self.k], name='predict-and-optimize', catch_response=True) as r:
            if r.status_code != 200: r.failure(f'{r.status_code}: {r.text[:200]}')
