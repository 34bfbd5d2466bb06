"""DESSEM benchmark: HPO's dispatch of ONS's official DESSEM case of 2025-10-11 (the bundled copy, or --case), timed
step by step, and its comparison with DESSEM over the first day. Prints the seconds to read the case, build the LP and
solve it (the first solve at the initial heads, then one per head iteration, each from the last optimal basis), and the figures model / DESSEM per
subsystem and for the SIN, next to the floors.

    python benchmarks/dessem.py [--case data/cepel/dessem_2025_10_11] [--head-iterations 1]

Target on the 2-core reference machine: the whole case, read, built and solved, in <= 20 s.
"""
import argparse, time
from pathlib import Path

import pandas as pd

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('--case', default=None, help='a DESSEM case folder (default: the bundled case)')
p.add_argument('--head-iterations', type=int, default=1, help='solves again with the heads of the last solution, this many times')
a = p.parse_args()

from hpo.etl import default_data_dir, SUBSYSTEMS
from hpo.dispatch import build_lp, dispatch
from hpo.dessem import (dessem_system, case_inputs, read_case_results, registry_with_changes, with_heads_at, HeadWarmStarts,
                        dessem_hourly, compare_with_dessem)

case = Path(a.case) if a.case else default_data_dir()/'cepel'/'dessem_2025_10_11'
times = {}
t0 = time.perf_counter()
system, inputs, results, registry = dessem_system(case), case_inputs(case), read_case_results(case), registry_with_changes(case)
times['read the case (idessem)'] = time.perf_counter() - t0
t = time.perf_counter(); lp = build_lp(system, inputs); lp.arrays(); times['build the LP'] = time.perf_counter() - t
warm = HeadWarmStarts()   # each re-solve from the last optimal basis, as `dispatch_case` does
result = dispatch(system, inputs, warm=warm)
times['solve (initial heads)'] = result.summary['solve_s']
for i in range(a.head_iterations):
    result = dispatch(with_heads_at(system, result, registry), inputs, warm=warm)
    times[f'build and solve (heads of solve {i + 1}, warm)'] = result.summary['build_s'] + result.summary['solve_s']
total = time.perf_counter() - t0
print(f'DESSEM case {case}: {lp.n_cols:,} variables, {lp.n_rows:,} constraints, {inputs.hours} hours; status {result.status}')
print(pd.Series(times | {'total': total}, name='seconds').round(2).to_string())
print(f"target: total <= 20 s: {'met' if total <= 20 else 'MISSED'}\n")

f = compare_with_dessem(dessem_hourly(result, results))
rows = {s: {'hydro': f[s]['hydro_energy_ratio'], 'thermal': f[s]['thermal_energy_ratio'], 'hourly hydro corr': f[s]['hydro_profile_corr'],
            'mean CMO': f[s]['cmo_mean_ratio']} for s in list(SUBSYSTEMS) + ['SIN']}
table = pd.DataFrame(rows).T
print('model / DESSEM over the first day (hourly hydro: correlation)')
print(table.round(3).to_string())
checks = {f'hydro {s} within ±10 %': abs(f[s]['hydro_energy_ratio'] - 1) <= 0.10 for s in SUBSYSTEMS} | \
         {'hydro SIN within ±3 %': abs(f['SIN']['hydro_energy_ratio'] - 1) <= 0.03,
          'thermal SIN within ±15 %': abs(f['SIN']['thermal_energy_ratio'] - 1) <= 0.15,
          'mean CMO within ±20 %': abs(f['SIN']['cmo_mean_ratio'] - 1) <= 0.20} | \
         {f'hourly hydro corr {s} >= 0.8': f[s]['hydro_profile_corr'] >= 0.8 for s in SUBSYSTEMS} | {'case <= 20 s': total <= 20}
print('\nfloors:'); print('\n'.join(f"  {'met   ' if ok else 'MISSED'} {k}" for k, ok in checks.items()))
