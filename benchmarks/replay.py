"""Replay benchmark: `hpo-replay` on real days of ../shared/data (or another data folder), as a user runs it.
Prints, per subsystem and for the SIN, the replay metrics against ONS's hourly balance, the days replayed and the
seconds per day (inside the replay loop, and the whole command divided by the days), against the floors.

    python benchmarks/replay.py [--data ../shared/data] [--start 2023-01-01] [--end 2023-09-19] [--every 13] [-- extra hpo-replay options]

Extra options go to hpo-replay, e.g. `-- --skip-missing --exchange free` (without the envelope of the exchanges of the days
before), `-- --groups none --spill m3s --min-outflow deck --exchange free` (the replay before the interchange groups, the
spill priced per MWh, the minimum outflows held to the river and the envelope), `-- --targets trend` or `-- --workers 2`.

Floors: hydro_energy_abs_dev_median <= 0.15 per subsystem and <= 0.05 for the SIN; hydro_shape_corr_median >= 0.6 per
subsystem; SIN thermal_energy_ratio_median in 0.75-1.25; one replayed day <= 2 s.
"""
import argparse, json, subprocess, sys, sysconfig, tempfile, time
from pathlib import Path
import pandas as pd

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('--data', default=str(Path(__file__).resolve().parents[2]/'shared'/'data'), help='data folder laid out like ../shared/data')
p.add_argument('--start', default='2023-01-01'); p.add_argument('--end', default='2023-09-19')
p.add_argument('--every', type=int, default=13)
p.add_argument('extra', nargs='*', help='more hpo-replay options, after --')
a = p.parse_args()

script = Path(sysconfig.get_path('scripts'))/'hpo-replay'
with tempfile.TemporaryDirectory() as d:
    t0 = time.perf_counter()
    r = subprocess.run([str(script), '--data', a.data, '--start', a.start, '--end', a.end, '--every', str(a.every), '--out', d, *a.extra],
                       capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode: sys.exit(f'hpo-replay failed:\n{r.stderr}')
    m = json.loads((Path(d)/'replay_metrics.json').read_text())
    days = pd.read_csv(Path(d)/'replay_days.csv')

done = days[days['status'] != 'skipped']
per_day, slowest = done['seconds'].mean(), done['seconds'].max()
print(f'hpo-replay {a.start} .. {a.end}, one day in {a.every}: {len(done)} days ({(done["status"] == "infeasible").sum()} with a limit not met), '
      f'{per_day:.2f} s per day in the loop (slowest {slowest:.2f} s, floor 2 s: {"yes" if slowest <= 2 else "NO"}), '
      f'{wall / max(len(done), 1):.2f} s per day for the whole command ({wall:.1f} s)')
t = pd.DataFrame(m).T
floor = {'hydro_energy_abs_dev_median': lambda s, v: v <= (0.05 if s == 'SIN' else 0.15),
         'hydro_shape_corr_median': lambda s, v: s == 'SIN' or v >= 0.6,
         'thermal_energy_ratio_median': lambda s, v: s != 'SIN' or 0.75 <= v <= 1.25}
cols = ['days', 'hydro_energy_ratio_median', 'hydro_energy_abs_dev_median', 'hydro_hourly_nmae_pct', 'hydro_shape_corr_median',
        'thermal_energy_ratio_median', 'net_export_mae_mw']
short = ['days', 'hydro ratio', 'hydro |dev|', 'hydro NMAE %', 'shape corr', 'thermal ratio', 'net exp MAE']
print(f'{"":>4} ' + ' '.join(f'{c:>13}' for c in short))
for s, row in t.iterrows():
    cells = []
    for c in cols:
        v = row[c]
        txt = '—' if v is None or pd.isna(v) else (f'{int(v)}' if c == 'days' else f'{v:,.0f}' if c == 'net_export_mae_mw' else f'{v:.3f}')
        if c in floor and v is not None and not pd.isna(v) and not floor[c](s, v): txt += ' ✗'
        cells.append(f'{txt:>13}')
    print(f'{s:>4} ' + ' '.join(cells))
print('✗: misses its floor. Model / ONS ratios; |dev| = median over days of |model/ONS - 1|; NMAE in % of ONS mean hydro; MAE in MW')
