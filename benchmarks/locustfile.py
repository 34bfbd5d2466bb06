"""Locust users for `benchmarks/service.py`: each posts `POST /v1/predict-and-optimize` for the four subsystems in
turn, with real 2023 ONS load histories (the last 337 hours) ending at origins that move forward hour by hour, as an
operator's screen refreshing through the day: the users share one counter, request k asks for subsystem k mod 4 at
hour `HPO_LOCUST_FROM` + k div 4 of the hourly origins (so the service's online band moves on one hour at a time).
`HPO_LOCUST_WAIT` is `none` (back to back: the saturated throughput) or `1-2` (each user waits 1 to 2 s between requests).
The users are locust's FastHttpUser (geventhttpclient): locust shares this machine's two cores with the service, and
that client takes less of them per request than the requests-based HttpUser."""
import itertools, os, sys
from pathlib import Path
from locust import FastHttpUser, task, between, constant

sys.path.insert(0, str(Path(__file__).resolve().parent))
from service_load import request_body   # the requests, shared with the one-client table (which must not load locust's gevent)

FIRST = int(os.environ.get('HPO_LOCUST_FROM', '0'))
_counter = itertools.count()

class Operator(FastHttpUser):
    wait_time = constant(0) if os.environ.get('HPO_LOCUST_WAIT', 'none') == 'none' else between(1, 2)

    @task
    def predict_and_optimize(self):
        with self.client.post('/v1/predict-and-optimize', json=request_body(next(_counter), FIRST), name='predict-and-optimize', catch_response=True) as r:
            if r.status_code != 200: r.failure(f'{r.status_code}: {r.text[:200]}')
