"""Band width for a year the calibration never saw, measured on validation data only (2023 is never read here).

    python benchmarks/band.py [--table _bench/forecast/integrated.parquet] [--work _bench/band]

Trains a LightGBM-only forecaster on target hours 2012-01-01 .. 2021-12-31 (its split-conformal bands calibrated on
2021), scores every hour of 2022 and prints, for each factor k on the band's distances from P50, the P10-P90 coverage
(min / mean / max over horizons 1..24 per subsystem, and the mean over all cells): how much a band calibrated on one
year under- or over-covers the next. About 9 minutes on two cores.
"""
import argparse
from pathlib import Path
import numpy as np, pandas as pd
from hpo.forecast import load_series, train, backtest, save_forecaster, load_forecaster

ROOT = Path(__file__).resolve().parents[1]
p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('--table', default=str(ROOT/'_bench'/'forecast'/'integrated.parquet'), help='integrated table (hpo-etl; benchmarks/forecast.py writes it)')
p.add_argument('--work', default=str(ROOT/'_bench'/'band'))
a = p.parse_args()
series = load_series(a.table)
model = Path(a.work)/'model_2021'
if not (model/'metadata.json').exists():
    save_forecaster(train(series, '2022-01-01', '2012-01-01', epochs=0, log=lambda *a, **k: None), model)
fc = load_forecaster(model)
bt = backtest(fc, series, '2022-01-01', '2023-01-01')
rows = []
for (sub, h), g in bt.groupby(['subsystem', 'horizon']):
    act, p50, p10, p90 = (g[c].to_numpy() for c in ('actual_mw', 'p50_mw', 'p10_mw', 'p90_mw'))
    for k in np.round(np.arange(1.0, 1.31, 0.01), 2):
        rows.append({'k': k, 'subsystem': sub, 'horizon': h,
                     'coverage': np.mean((act >= p50 + k * (p10 - p50)) & (act <= p50 + k * (p90 - p50)))})
df = pd.DataFrame(rows)
t = df.pivot_table(index='k', columns='subsystem', values='coverage', aggfunc=['min', 'mean', 'max'])
t['all cells'] = df.groupby('k').coverage.mean()
print('P10-P90 coverage on 2022 of a band calibrated on 2021, its distances from P50 times k')
with pd.option_context('display.width', 200): print(t.round(3).to_string())
print('k with the mean coverage closest to 0.80:', (t['all cells'] - 0.8).abs().idxmin())
