"""The day-ahead load forecast (issued at noon local time the day before, every hour of the next day) next to ONS's own
day-ahead forecast, the "carga programada", on a year the model never saw.

    python benchmarks/day_ahead.py [--data ../shared/data] [--train-start 2012-01-01] [--train-end 2023-01-01] [--end 2024-01-01]
                                   [--json OUT.json] [--predictions OUT.csv]

Trains the day-ahead model (`hpo.dayahead`, one LightGBM per subsystem; validation: the year before --train-end) on the
ONS load files of the data folder and the temperature of its INMET stations (South, Southeast), then scores every day-ahead forecast of the target hours from --train-end to --end
against CURVA_CARGA, next to ONS's carga programada of those years on the same hours (hours where both exist): MAPE per
subsystem, month, local hour and lead, and the P10-P90 coverage of the band as served (corrected online from the end of
training). Then the time of one day-ahead forecast of all subsystems, warm (the model loaded, the same process), over
30 successive days. Never tune on the test year: choose with --train-end 2022-01-01 --end 2023-01-01.
"""
import argparse, json, tempfile, time
from pathlib import Path
import numpy as np
import pandas as pd
from hpo.core import json_safe, mape
from hpo.etl import read_ons_programmed_load, LOCAL_TZ
from hpo.forecast import load_series, read_load_files
from hpo.dayahead import train_day_ahead, day_ahead_backtest, day_ahead_report, day_ahead_table, save_day_ahead, load_day_ahead, weather_from

ROOT = Path(__file__).resolve().parents[1]
p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('--data', default=str(ROOT.parent/'shared'/'data'))
p.add_argument('--train-start', default='2012-01-01'); p.add_argument('--train-end', default='2023-01-01'); p.add_argument('--end', default='2024-01-01')
p.add_argument('--json', default=None, help='write the report here'); p.add_argument('--predictions', default=None, help='write every scored forecast here (CSV)')
a = p.parse_args()
data = Path(a.data)
y0, y1 = int(a.train_start[:4]) - 1, int(a.end[:4])
files = [f for y in range(y0, y1 + 1) if (f := data/'ons'/'curva_carga'/f'CURVA_CARGA_{y}.csv').exists()]
loads = load_series(read_load_files(files))
temps = weather_from(data)   # the temperature observed at the INMET stations of the South and the Southeast, up to each origin
print(f'temperature of {", ".join(temps)} from {data}/inmet')
t0 = time.time()
m = train_day_ahead(loads, pd.Timestamp(a.train_end, tz='UTC'), pd.Timestamp(a.train_start, tz='UTC'), log=print, temps=temps)
train_s = time.time() - t0
print(f'trained in {train_s:.0f}s (targets {a.train_start} .. {a.train_end}, validation: the year before)')
s, e = pd.Timestamp(a.train_end, tz='UTC'), pd.Timestamp(a.end, tz='UTC')
bt = day_ahead_backtest(m, loads, s, e, temps=temps)
refs = [f for y in range(s.year, (e - pd.Timedelta(hours=1)).year + 1) if (f := data/'ons'/'carga_programada'/f'CARGA_PROGRAMADA_{y}.csv').exists()]
ref = pd.concat([read_ons_programmed_load(f) for f in refs], ignore_index=True) if refs else None
rep = day_ahead_report(bt, ref)
print(f'\nday-ahead load, target hours {a.train_end} .. {a.end} (UTC), MAPE (%) beside ONS on the same hours:')
print(day_ahead_table(rep).round(3).to_string())
if ref is not None:   # the breakdowns on the same hours
    r = ref.set_index(['subsystem', 'timestamp'])['programmed_load_mw']
    j = bt.assign(ons_mw=r.reindex(pd.MultiIndex.from_frame(bt[['subsystem', 'timestamp']])).to_numpy()).dropna(subset=['ons_mw', 'actual_mw'])
    loc = j.timestamp.dt.tz_convert(LOCAL_TZ)
    j = j.assign(month=loc.dt.month, hour=loc.dt.hour, hpo_ape=(j.p50_mw - j.actual_mw).abs() / j.actual_mw * 100, ons_ape=(j.ons_mw - j.actual_mw).abs() / j.actual_mw * 100)
    for by in ('month', 'hour', 'horizon'):
        t = j.groupby(['subsystem', by])[['hpo_ape', 'ons_ape']].mean().unstack('subsystem')
        rep[f'by_{by}'] = {f'{k}_{sub}': v for (k, sub), v in t.round(3).to_dict().items()}
        print(f'\nMAPE (%) by {by}:'); print(t.round(2).to_string())
    days = j.assign(day=loc.dt.date).groupby(['subsystem', 'day'])[['hpo_ape', 'ons_ape']].mean()
    days['diff'] = days.hpo_ape - days.ons_ape
    worst = days.sort_values('diff', ascending=False).groupby('subsystem').head(5)
    print('\ndays where HPO trails ONS most (daily MAPE, %):'); print(worst.round(2).to_string())
    rep['worst_days'] = {f'{s}_{d}': v for (s, d), v in worst['diff'].round(3).items()}
    rep['hpo_better_share_of_days'] = (days['diff'] < 0).groupby('subsystem').mean().round(3).to_dict()
# latency: 30 successive days, warm, the model read back from its folder
with tempfile.TemporaryDirectory() as tmp: m2 = load_day_ahead(save_day_ahead(m, Path(tmp)/'day_ahead'))
day0 = (e - pd.Timedelta(days=40)).tz_localize(None).normalize()
m2.forecast_day(loads, day0, temps=temps)   # cold
times = []
for k in range(1, 31):
    t0 = time.perf_counter(); m2.forecast_day(loads, day0 + pd.Timedelta(days=k), temps=temps); times.append(time.perf_counter() - t0)
lat = {'median_ms': float(np.median(times) * 1000), 'p95_ms': float(np.quantile(times, 0.95) * 1000)}
print(f'\nday-ahead forecast of {len(m.subsystems)} subsystems, warm: median {lat["median_ms"]:.0f} ms, p95 {lat["p95_ms"]:.0f} ms (target <= 200 ms)')
print(f'training: {train_s:.0f}s (target for the whole model <= 15 min)')
rep |= {'train_seconds': train_s, 'latency': lat, 'validation': m.meta['validation'], 'train_end': a.train_end, 'end': a.end}
if a.json: Path(a.json).write_text(json.dumps(json_safe(rep), indent=1))
if a.predictions: bt.to_csv(a.predictions, index=False)
