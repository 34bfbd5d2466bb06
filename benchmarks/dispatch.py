"""Dispatch benchmark: every plant of the CEPEL deck over 24 h and 168 h of real 2023 ONS load, wind and solar,
with HiGHS and CBC. Prints model size, build, solve and end-to-end times (the `hpo-dispatch` command, as a user runs
it: read, build, solve, write), and whether the two solvers agree.

    python benchmarks/dispatch.py [--start 2023-03-06] [--no-cbc-168]

Targets on the 2-core reference machine, end to end with HiGHS: 24 h <= 2 s, 168 h <= 15 s; build no slower than solve.
"""
import argparse, json, subprocess, sys, sysconfig, tempfile, time
from pathlib import Path

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('--start', default='2023-03-06', help='first day (local midnight = 03:00 UTC) of the load, in 2023-01-01 .. 2023-09-12')
p.add_argument('--no-cbc-168', action='store_true', help='skip CBC at 168 h (it takes minutes)')
a = p.parse_args()

from hpo.etl import read_ons_balance, default_data_dir, SUBSYSTEMS
script = Path(sysconfig.get_path('scripts'))/'hpo-dispatch'
bal = read_ons_balance(default_data_dir()/'ons'/'balanco_energia_subsistema'/'BALANCO_ENERGIA_SUBSISTEMA_2023.csv')
t = bal[bal.subsystem.isin(SUBSYSTEMS) & (bal.timestamp >= f'{a.start} 03:00+00:00')].sort_values(['timestamp', 'subsystem'])
t = t.rename(columns={'balance_load_mw': 'load_mw'})[['timestamp', 'subsystem', 'load_mw', 'wind_mw', 'solar_mw']].head(4 * 168)

rows = []
with tempfile.TemporaryDirectory() as d:
    load = Path(d)/'load.csv'; t.to_csv(load, index=False)
    for horizon, target in ((24, 2.0), (168, 15.0)):
        objective = {}
        for solver in ('highs', 'cbc'):
            if solver == 'cbc' and horizon == 168 and a.no_cbc_168: continue
            out = Path(d)/f'{solver}{horizon}'
            t0 = time.perf_counter()
            r = subprocess.run([str(script), '--load', str(load), '--horizon', str(horizon), '--solver', solver, '--out', str(out)],
                               capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if r.returncode: sys.exit(f'hpo-dispatch failed:\n{r.stderr}')
            s = json.loads((out/'summary.json').read_text()); objective[solver] = s['objective']
            rows.append(dict(horizon=horizon, solver=solver, plants=s['n_plants'], variables=s['n_variables'], constraints=s['n_constraints'],
                             build=s['build_s'], solve=s['solve_s'], inside=s['total_s'], wall=wall, status=s['status'],
                             target=target if solver == 'highs' else None))
        if len(objective) == 2:
            rows[-1]['agree'] = abs(objective['highs'] - objective['cbc']) / abs(objective['highs'])

print(f'{"horizon":>7} {"solver":>6} {"plants":>6} {"variables":>10} {"constraints":>11} {"build s":>8} {"solve s":>8} '
      f'{"total s":>8} {"wall s":>7} {"target":>7}  ok   status')
for r in rows:
    ok = '' if r['target'] is None else ('yes' if r['wall'] <= r['target'] and r['build'] <= r['solve'] else 'NO')
    print(f'{r["horizon"]:>7} {r["solver"]:>6} {r["plants"]:>6} {r["variables"]:>10,} {r["constraints"]:>11,} {r["build"]:>8.2f} '
          f'{r["solve"]:>8.2f} {r["inside"]:>8.2f} {r["wall"]:>7.2f} {r["target"] or "":>7}  {ok:<4} {r["status"]}'
          + (f'   HiGHS vs CBC objective: relative difference {r["agree"]:.1e}' if 'agree' in r else ''))
print('total s: inside hpo-dispatch (read, build, solve, write); wall s: the whole command, Python start-up and imports included')
