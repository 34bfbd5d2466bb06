"""The net load (load − wind − solar) and its ramps on a year the models never saw, from the full archive.

    python benchmarks/net_load.py [--data ../shared/data] [--train-start 2015-01-01] [--train-end 2021-01-01] [--end 2022-01-01]

Builds the integrated table of the data folder (hpo-etl), trains the load model (LightGBM only, to keep this to minutes)
and the wind and solar models on target hours from --train-start to --train-end (validation: the year before it, which
also calibrates the net load's band out of sample), then scores every hour from --train-end to --end: the net load's
MAE and P10-P90 coverage (the band as served: corrected online from the end of training) per subsystem and horizon
against persistence, the wind and solar MAE and coverage beside the
reference, and the hits and false alarms on the 10 % largest hourly net-load ramps (model, persistence of the last ramp,
the ramp of the same hour the day before); and the time of one 24-hour forecast of every series (load, wind, solar, net
load) from each of 48 successive hourly origins.
"""
import argparse, json, time
import numpy as np
from pathlib import Path
import pandas as pd
from hpo.core import json_safe
from hpo.etl import build_dataset
from hpo.forecast import load_series
from hpo.renewables import renewable_series
from hpo.netload import train_all, evaluate_all, net_table

ROOT = Path(__file__).resolve().parents[1]
p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('--data', default=str(ROOT.parent/'shared'/'data'))
p.add_argument('--train-start', default='2015-01-01'); p.add_argument('--train-end', default='2021-01-01'); p.add_argument('--end', default='2022-01-01')
p.add_argument('--json', default=None, help='write the report here')
a = p.parse_args()
years = list(range(int(a.train_start[:4]), int(a.end[:4]) + 1))
t0 = time.time()
table, _ = build_dataset(a.data, years=[y for y in years if (Path(a.data)/'ons'/'curva_carga'/f'CURVA_CARGA_{y}.csv').exists()], log=lambda *x: None)
loads, ren = load_series(table), renewable_series(table)
print(f'table: {len(table):,} rows in {time.time() - t0:.0f}s')
t0 = time.time()
m = train_all(loads, ren, a.train_end, a.train_start, epochs=0, log=None)
print(f'trained in {time.time() - t0:.0f}s: load LightGBM {m.load.meta["train_seconds"]["total"]:.0f}s, wind and solar {m.renewables.meta["train_seconds"]:.0f}s')
rep, preds = evaluate_all(m, loads, ren, a.train_end, a.end, horizons=(1, 6, 24))
print(f'\nnet load, test {a.train_end} .. {a.end}: MAE (MW)'); print(net_table(rep).round(0).to_string())
print('coverage P10-P90:'); print(net_table(rep, 'coverage_p10_p90').loc[['model']].round(3).to_string())
REFERENCE = {('wind', 'NE'): (237, 806, 1221), ('wind', 'S'): (56, 207, 362), ('solar', 'NE'): (48, 90, 95), ('solar', 'SE'): (20, 35, 37)}   # MAE (MW), h1/h6/h24, test 2021
print('\nwind and solar: MAE (MW), the reference (test 2021), P10-P90 coverage')
print(pd.DataFrame([{'series': k, 'subsystem': s, 'horizon': h, 'mae_mw': rep[k][s][str(h)]['mae_mw'], 'reference': ref[i],
                     'coverage': rep[k][s][str(h)]['coverage_p10_p90']} for (k, s), ref in REFERENCE.items() if s in rep.get(k, {})
                    for i, h in enumerate((1, 6, 24))]).round(3).to_string(index=False))
print('\nramps (10 % largest hourly net-load ramps), an hour ahead: events, hits, false alarms')
rows = [{'subsystem': s, 'forecast': f, **{k: v['1'][f][k] for k in ('events', 'hits', 'false_alarms', 'pod', 'far', 'csi')}}
        for s, v in rep['net_load_ramps'].items() for f in ('model', 'persistence', 'previous_day')]
print(pd.DataFrame(rows).round(3).to_string(index=False))
if a.json: Path(a.json).write_text(json.dumps(json_safe(rep), indent=1))

# one forecast of every series from each of 48 successive origins (the first call reads the trees and is not counted)
end = min(min(s.dropna().index.max() for s in loads.values()), min(s.dropna().index.max() for s in ren.values()), pd.Timestamp(a.end, tz='UTC'))
origins = [end - pd.Timedelta(hours=k) for k in range(48, -1, -1)]
cut = lambda o: ({k: s[:o] for k, s in loads.items()}, {k: s[:o] for k, s in ren.items()})
m.forecast(*cut(origins[0]))
times = []
for o in origins[1:]:
    parts = cut(o); t1 = time.perf_counter(); f = m.forecast(*parts); times.append(time.perf_counter() - t1)
print(f'\nforecast of every series ({", ".join(sorted(f.series.unique()))}; {len(f)} rows), 24 h, 48 successive origins to {end}: '
      f'median {1000 * np.median(times):.0f} ms, p90 {1000 * np.quantile(times, .9):.0f} ms')
