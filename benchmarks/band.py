"""Band width for a year the calibration never saw, measured on validation data only (2023 is never read here).

    python benchmarks/band.py [--table _bench/forecast/integrated.parquet] [--work _bench/band]

Trains a LightGBM-only forecaster on target hours 2012-01-01 .. 2021-12-31 (its split-conformal bands calibrated on
2021), scores every hour of 2022 and prints, for each factor k on the band's distances from P50, the P10-P90 coverage
(min / mean / max over horizons 1..24 per subsystem, and the mean over all cells): how much a band calibrated on one
year under- or over-covers the next. Then the same year with the online correction of the product (`online_band`,
adaptive conformal inference): each side's distance from P50 is multiplied by exp(z), and once a target hour is observed
z += gamma * (miss - 0.1) for that side (misses of the forecasts whose targets are known at each origin, starting
from z = 0 at the start of 2022). `--model DIR --start --end` score another model and period (e.g. the benchmark
model on 2023, as a test of a gamma chosen here). About 9 minutes on two cores.
"""
import argparse
from pathlib import Path
import numpy as np, pandas as pd
from hpo.forecast import load_series, train, backtest, save_forecaster, load_forecaster, online_band

ROOT = Path(__file__).resolve().parents[1]
p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('--table', default=str(ROOT/'_bench'/'forecast'/'integrated.parquet'), help='integrated table (hpo-etl; benchmarks/forecast.py writes it)')
p.add_argument('--work', default=str(ROOT/'_bench'/'band'))
p.add_argument('--model', default=None, help='score this model instead of the one trained to 2021')
p.add_argument('--start', default='2022-01-01'); p.add_argument('--end', default='2023-01-01')
p.add_argument('--gammas', default='0,0.005,0.01,0.02,0.05')
a = p.parse_args()
series = load_series(a.table)
model = Path(a.work)/'model_2021'
if not (model/'metadata.json').exists():
    save_forecaster(train(series, '2022-01-01', '2012-01-01', epochs=0, log=lambda *a, **k: None), model)
fc = load_forecaster(a.model or model)
fc.online_gamma = 0.0   # the band as calibrated; the online correction is applied below
bt = backtest(fc, series, a.start, a.end)
rows = []
for (sub, h), g in bt.groupby(['subsystem', 'horizon']):
    act, p50, p10, p90 = (g[c].to_numpy() for c in ('actual_mw', 'p50_mw', 'p10_mw', 'p90_mw'))
    for k in np.round(np.arange(1.0, 1.31, 0.01), 2):
        rows.append({'k': k, 'subsystem': sub, 'horizon': h,
                     'coverage': np.mean((act >= p50 + k * (p10 - p50)) & (act <= p50 + k * (p90 - p50)))})
df = pd.DataFrame(rows)
t = df.pivot_table(index='k', columns='subsystem', values='coverage', aggfunc=['min', 'mean', 'max'])
t['all cells'] = df.groupby('k').coverage.mean()
print(f'P10-P90 coverage on {a.start} .. {a.end} of the band as calibrated, its distances from P50 times k')
with pd.option_context('display.width', 200): print(t.round(3).to_string())
print('k with the mean coverage closest to 0.80:', (t['all cells'] - 0.8).abs().idxmin())

def online(sub, gamma):
    "Coverage per horizon of one subsystem with the product's online correction (`online_band`) run from `--start`."
    g = bt[bt.subsystem == sub]
    origins = pd.date_range(g.origin.min(), g.origin.max(), freq='h')
    band = np.stack([g.pivot(index='origin', columns='horizon', values=c).reindex(origins).to_numpy()
                     for c in ('p10_mw', 'p50_mw', 'p90_mw')], 1)
    load = series[sub].reindex(origins).to_numpy(float, copy=True)
    load[origins < pd.Timestamp(a.start, tz='UTC')] = np.nan   # learn from the targets of the scored period only
    f, _ = online_band(band, load, gamma)
    out = {}
    for h, x in g.groupby('horizon'):
        i = origins.get_indexer(x.origin)
        lo = x.p50_mw - f[i, 0, h - 1] * (x.p50_mw - x.p10_mw); hi = x.p50_mw + f[i, 1, h - 1] * (x.p90_mw - x.p50_mw)
        out[h] = np.mean((x.actual_mw >= lo) & (x.actual_mw <= hi))
    return pd.Series(out)

print('\nWith the online correction: P10-P90 coverage, min / mean / max over horizons per subsystem')
for gamma in [float(x) for x in a.gammas.split(',')]:
    cov = pd.DataFrame({sub: online(sub, gamma) for sub in sorted(bt.subsystem.unique())})
    print(f'gamma {gamma:<6}', '  '.join(f'{s} {c.min():.3f} / {c.mean():.3f} / {c.max():.3f}' for s, c in cov.items()), flush=True)
