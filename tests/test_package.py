"""The installed package: light imports, and the command line from any working directory."""
import subprocess, sys

def test_import_is_light():
    code = "import sys, hpo, hpo.etl; heavy = {'tensorflow', 'keras', 'matplotlib', 'pulp', 'sklearn', 'dask', 'distributed'} & set(sys.modules); print(sorted(heavy))"
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == '[]', r.stdout

def test_dispatch_side_is_light():
    "The dispatch, the DESSEM case and the replay load neither TensorFlow nor Dask (nor idessem until a case is read)."
    code = "import sys, hpo.dispatch, hpo.dessem, hpo.replay; heavy = {'tensorflow', 'keras', 'dask', 'distributed', 'idessem'} & set(sys.modules); print(sorted(heavy))"
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == '[]', r.stdout

def test_hpo_etl_any_directory(tmp_path):
    out = tmp_path/'t.parquet'
    r = subprocess.run(['hpo-etl', '--years', '2023', '--out', str(out), '--quiet'], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    import pandas as pd
    t = pd.read_parquet(out)
    assert set(t['subsystem']) == {'N', 'NE', 'S', 'SE'} and len(t) == 4*8760

def test_hpo_etl_bad_source_is_one_line(tmp_path):
    r = subprocess.run(['hpo-etl', '--source', str(tmp_path/'nowhere'), '--out', str(tmp_path/'x.parquet')], capture_output=True, text=True)
    assert r.returncode == 2 and 'Traceback' not in r.stderr
    assert r.stderr.strip() == f"hpo-etl: error: {tmp_path/'nowhere'}: the data folder does not exist (expected a folder laid out like ../shared/data)"

def test_hpo_etl_data_is_the_data_folder(tmp_path):
    "`--data` names the data folder in every command; `--source` is its older spelling in hpo-etl."
    r = subprocess.run(['hpo-etl', '--data', str(tmp_path/'nowhere'), '--out', str(tmp_path/'x.parquet')], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.strip().endswith(f"{tmp_path/'nowhere'}: the data folder does not exist (expected a folder laid out like ../shared/data)")
