"""Band width for a year the calibration never saw, measured on validation data only (2023 is never read here).

    python benchmarks/band.py [--table _bench/forecast/integrated.parquet] [--work _bench/band]

Trains a LightGBM-only forecaster on target hours 2012-01-01 .. 2021-12-31 (its split-conformal bands calibrated on
2021), scores every hour of 2022 and prints, for each factor k on the band's distances from P50, the P10-P90 coverage
(min / mean / max over horizons 1..24 per subsystem, and the mean over all cells): how much a band calibrated on one
year under- or over-covers the next. Then the same year with an online correction (adaptive conformal inference,
not yet in the product): each side's distance from P50 is multiplied by exp(z), and once a target hour is observed
z += gamma * (miss - 0.1) for that side (misses of the forecasts whose targets are known at each origin, starting
from z = 0 at the start of 2022). `--model DIR --start --end` score another model and period (e.g. the benchmark
model on 2023, as a test of a gamma chosen here). About 9 minutes on two cores.
"""
import argparse
from pathlib import Path
import numpy as np, pandas as pd
from hpo.forecast import load_series, train, backtest, save_forecaster, load_forecaster

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

def online(g, gamma):
    "Coverage of one subsystem and horizon with the online correction (rows in origin order)."
    g = g.sort_values('origin')
    act, p50, p10, p90 = (g[c].to_numpy() for c in ('actual_mw', 'p50_mw', 'p10_mw', 'p90_mw'))
    origin, target = g['origin'].to_numpy(), g['timestamp'].to_numpy()
    n = len(act); s_lo, s_hi = np.ones(n), np.ones(n); z_lo = z_hi = 0.0; j = 0
    for i in range(n):
        while j < i and target[j] <= origin[i]:   # targets observed by origin i update the state
            z_lo += gamma * ((act[j] < p50[j] + s_lo[j] * (p10[j] - p50[j])) - 0.1)
            z_hi += gamma * ((act[j] > p50[j] + s_hi[j] * (p90[j] - p50[j])) - 0.1)
            j += 1
        s_lo[i], s_hi[i] = np.exp(z_lo), np.exp(z_hi)
    return np.mean((act >= p50 + s_lo * (p10 - p50)) & (act <= p50 + s_hi * (p90 - p50)))

print('\nWith the online correction: P10-P90 coverage, min / mean / max over horizons per subsystem')
for gamma in [float(x) for x in a.gammas.split(',')]:
    cov = pd.Series({k: online(g, gamma) for k, g in bt.groupby(['subsystem', 'horizon'])}).unstack(0)
    print(f'gamma {gamma:<6}', '  '.join(f'{s} {c.min():.3f} / {c.mean():.3f} / {c.max():.3f}' for s, c in cov.items()), flush=True)
