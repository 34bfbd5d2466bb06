"""Rolling-origin backtest with retraining over 2023: LightGBM refitted on the first of every month (on all target hours
before it, validation the year before), scored until the next month, at horizons 1 and 24; beside it the LightGBM of
the model trained once up to 2022-12-31 (the forecast benchmark's model), on the same hours.

    python benchmarks/backtest.py [--data ../shared/data] [--work DIR] [--model DIR]

Writes DIR/rolling_origin.csv (read by the forecast notebook) and prints MAPE per month and for the year.
"""
import argparse, sys, time
from pathlib import Path
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('--data', default=str(ROOT.parent/'shared'/'data'))
p.add_argument('--work', default=str(ROOT/'_bench'/'backtest'))
p.add_argument('--model', default=str(ROOT/'_bench'/'forecast'/'model'), help='model trained to 2022-12-31 (benchmarks/forecast.py); skipped if absent')
p.add_argument('--table', default=str(ROOT/'_bench'/'forecast'/'integrated.parquet'), help='integrated table (built from --data if absent)')
a = p.parse_args()
work = Path(a.work); work.mkdir(parents=True, exist_ok=True)

from hpo.etl import build_dataset
from hpo.forecast import load_series, load_forecaster, rolling_origin
table = Path(a.table)
series = load_series(table if table.exists() else build_dataset(a.data, log=lambda *x: None)[0])
fixed = load_forecaster(a.model) if (Path(a.model)/'metadata.json').exists() else None
if fixed is not None and not fixed.meta['train_end'].startswith('2023-01-01'): sys.exit(f'{a.model}: trained to {fixed.meta["train_end"]}, expected 2023-01-01')
t = time.perf_counter()
ro = rolling_origin(series, pd.date_range('2023-01-01', '2023-12-01', freq='MS', tz='UTC'), fixed=fixed)
ro.to_csv(work/'rolling_origin.csv', index=False)
print(f'\n{len(ro)} rows in {time.perf_counter() - t:.0f}s -> {work/"rolling_origin.csv"}')
ro['month'] = pd.to_datetime(ro.origin, utc=True).dt.strftime('%Y-%m')
cols = ['mape'] + (['fixed_mape'] if fixed is not None else []) + ['persistence_mape']
with pd.option_context('display.width', 200):
    for h in sorted(ro.horizon.unique()):
        tab = ro[ro.horizon == h].pivot_table(index='month', columns='subsystem', values=cols)
        print(f'\nMAPE (%) by month, horizon {h} h (mape: retrained at each origin; fixed_mape: trained once to 2022-12-31)')
        print(tab.round(2).to_string())
    w = ro.assign(**{c: ro[c] * ro.n_hours for c in cols}).groupby(['subsystem', 'horizon'])[cols + ['n_hours']].sum()
    year = w[cols].div(w.n_hours, axis=0)
    print('\n2023, hour-weighted MAPE (%)'); print(year.round(3).unstack().to_string())
