"""Model selection for the LightGBM bag, on validation years only (2023, the test year, is never read here).

    python benchmarks/bagging.py [--table _bench/forecast/integrated.parquet]

For 18 and 24 hours ahead, models trained up to 2021 are scored on 2022, and for 24 hours ahead models trained up to
2020 are scored on 2021. Per subsystem it prints the MAPE (%) of one LightGBM model, of two averaged with different
seeds and the same inputs, and of two where the second also reads the context inputs (`Design.context`): the table
in the forecast notebook that chose `lightgbm_bag`'s default. About 10 minutes on two cores.
"""
import argparse
from pathlib import Path
import numpy as np, pandas as pd
from hpo.forecast import load_series, design_of, lightgbm_bag, lightgbm_forecast

ROOT = Path(__file__).resolve().parents[1]
p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('--table', default=str(ROOT/'_bench'/'forecast'/'integrated.parquet'), help='integrated table (hpo-etl; benchmarks/forecast.py writes it)')
a = p.parse_args()
series = load_series(a.table)
rows = []
for fold, h in [(2022, 18), (2022, 24), (2021, 24)]:
    end, stop = pd.Timestamp(f'{fold}-01-01', tz='UTC'), pd.Timestamp(f'{fold + 1}-01-01', tz='UTC')
    for sub in ['SE', 'S', 'NE', 'N']:
        d = design_of(series, sub)
        tt = d.target_time(h)
        r = np.flatnonzero((tt >= end) & (tt < stop) & np.isfinite(d.actual(h)) & np.isfinite(d.level))
        act = d.actual(h)[r]
        mape = lambda b: float(np.mean(np.abs(lightgbm_forecast(b, d, h, r) - act) / act) * 100)
        _, seeds = lightgbm_bag(d, h, '2012-01-01', end, context=False)
        _, ctx = lightgbm_bag(d, h, '2012-01-01', end, context=True)
        rows.append({'scored': fold, 'horizon': h, 'subsystem': sub, 'one model': mape(seeds.boosters[0]),
                     'two seeds': mape(seeds), 'two, second with context': mape(ctx)})
        print(rows[-1], flush=True)
t = pd.DataFrame(rows).set_index(['scored', 'horizon', 'subsystem'])
print('\nLightGBM MAPE (%) on validation years (trained up to the year before, early-stopped on it)')
print(t.round(3).to_string())
