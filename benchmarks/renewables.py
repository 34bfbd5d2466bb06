"""Wind and solar forecasts against the reference and the baselines, in MW, on years the models never saw.

    python benchmarks/renewables.py [--data ../shared/data] [--workers 2]

Reads the ONS energy balance files of the data folder (`ons/balanco_energia_subsistema/`), trains the renewables
forecaster on target hours 2018-01-01 .. 2020-12-31 (validation: 2020) and scores every hour of 2021, night included;
then trains on 2018 .. 2021 and scores 2023 (which has ONS's estimate of distributed PV in solar from 2023-04-29, a
break the 2021 model never saw: the table shows before and after). Prints the training time, the MAE of the model, of
the reference (LightGBM per horizon on capacity-normalised lags and calendar, no weather, trained 2018-2020, measured on
2021) and of the four baselines, the P10-P90 coverage, and the warm time of one 24-hour forecast of every series.
"""
import argparse, time
from pathlib import Path
import numpy as np, pandas as pd
from hpo.renewables import read_balance_files, renewable_series, train_renewables, evaluate_renewables, backtest_renewables, BASELINES

REFERENCE = {('wind', 'NE'): (237, 806, 1221), ('wind', 'S'): (56, 207, 362), ('solar', 'NE'): (48, 90, 95), ('solar', 'SE'): (20, 35, 37)}
ROOT = Path(__file__).resolve().parents[1]
p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('--data', default=str(ROOT.parent/'shared'/'data'), help='data folder laid out like ../shared/data')
p.add_argument('--workers', type=int, default=2)
a = p.parse_args()
files = sorted((Path(a.data)/'ons'/'balanco_energia_subsistema').glob('BALANCO_ENERGIA_SUBSISTEMA_*.csv'))
series = renewable_series(read_balance_files(files))

def table(rep, with_reference:bool):
    "MAE (MW) per series and horizon: the model, the reference (measured on 2021 only), the baselines; the band's coverage."
    rows = []
    for (kind, sub), ref in REFERENCE.items():
        for h, r in zip((1, 6, 24), ref):
            m = rep[kind][sub][str(h)]
            base = {b: rep['renewable_baselines'][b][kind][sub][str(h)]['mae_mw'] for b in BASELINES}
            row = {'series': f'{kind} {sub}', 'h': h, 'model_mae': m['mae_mw']}
            row |= {'reference': r, 'at_or_below': m['mae_mw'] <= r} if with_reference else {'beats_baselines': m['mae_mw'] < min(base.values())}
            rows.append(row | {'coverage': m['coverage_p10_p90']} | base)
    return pd.DataFrame(rows)

for train_end, start, end, label in (('2021-01-01', '2021-01-01', '2022-01-01', 'test 2021, trained 2018-2020'),
                                     ('2022-01-01', '2023-01-01', '2023-09-20', 'test 2023, trained 2018-2021')):
    t0 = time.time()
    rf = train_renewables(series, train_end, '2018-01-01', workers=a.workers, log=None)
    bt = backtest_renewables(rf, series, start, end, horizons=(1, 6, 24))
    rep = evaluate_renewables(rf, series, start, end, backtest=bt)
    print(f'\n== {label}: {len(rf.keys)} series x 24 horizons trained in {rf.meta["train_seconds"]:.0f}s ({", ".join(rf.keys)})')
    print(table(rep, start.startswith('2021')).round(3).to_string(index=False))
    if start.startswith('2023'):
        for part, (s, e) in {'before MMGD (to 2023-04-28)': ('2023-01-01', '2023-04-29 03:00'), 'with MMGD (from 2023-04-29)': ('2023-04-29 03:00', '2023-09-20')}.items():
            g = bt[(bt.timestamp >= pd.Timestamp(s, tz='UTC')) & (bt.timestamp < pd.Timestamp(e, tz='UTC')) & (bt.series == 'solar')]
            print(f'  solar {part}: MAE by subsystem and horizon',
                  g.assign(e=(g.p50_mw - g.actual_mw).abs()).groupby(['subsystem', 'horizon']).e.mean().round(1).to_dict())
    origin = pd.Timestamp(end, tz='UTC') - pd.Timedelta(days=3)
    rf.forecast(series, origin)
    t1 = time.perf_counter(); n = 20
    for _ in range(n): rf.forecast(series, origin)
    print(f'  24-hour forecast of every series (warm): {(time.perf_counter() - t1) / n * 1000:.0f} ms (only horizons 1..24 trained: {rf.horizons == list(range(1, 25))})')
