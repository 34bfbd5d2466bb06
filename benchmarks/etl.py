"""ETL benchmark: the full pipeline over all of ../shared/data (24 years x 4 subsystems of load, 18 years of weather,
balance, CMO, prices), run as the user runs it (`hpo-etl`), timed end to end with its peak memory.

    python benchmarks/etl.py [--data ../shared/data]

Targets on the 2-core reference machine: <= 60 s wall time and <= 2 GB peak memory.
"""
import argparse, resource, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('--data', default=str(ROOT.parent/'shared'/'data'))
a = p.parse_args()

with tempfile.TemporaryDirectory() as d:
    out = Path(d)/'integrated.parquet'
    t0 = time.perf_counter()
    r = subprocess.run(['hpo-etl', '--data', a.data, '--out', str(out), '--quiet'], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode: sys.exit(f'hpo-etl failed:\n{r.stderr}')
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    import pandas as pd
    t = pd.read_parquet(out)
    rows, size_mb = len(t), out.stat().st_size / 2**20
    years = f'{t.timestamp.min():%Y-%m-%d} → {t.timestamp.max():%Y-%m-%d}'

print(f'{"measure":<28}{"value":>16}{"target":>12}  ok')
for name, val, target in [('wall time (s)', wall, 60), ('peak memory (MB)', peak_mb, 2048)]:
    print(f'{name:<28}{val:>16,.1f}{target:>12,}  {"yes" if val <= target else "NO"}')
print(f'{"rows written":<28}{rows:>16,}')
print(f'{"parquet size (MB)":<28}{size_mb:>16,.1f}')
print(f'{"period (UTC)":<28}{years:>16}')
