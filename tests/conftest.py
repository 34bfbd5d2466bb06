"""Shared by the tests: a real `hpo-serve` on a free port of 127.0.0.1, and Debian's headless Chromium."""
import os, shutil, socket, subprocess, time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync']
SHOTS = Path(os.environ.get('HPO_SCREENSHOTS', ROOT/'_screenshots'))

def _need_browser():
    if CHROMIUM: return
    if os.environ.get('CI'): pytest.fail("Debian's chromium is not installed (.ci/run installs it)")
    pytest.skip("Debian's chromium is not installed")

def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

ADMIN_TOKEN = 'test-admin-token'   # the HPO_ADMIN_TOKEN of the servers the tests start
ADMIN = {'Authorization': f'Bearer {ADMIN_TOKEN}'}

class Server:
    "`hpo-serve` in a subprocess on a free port of 127.0.0.1 (with `ADMIN_TOKEN` as its admin token unless `admin_token` says otherwise)."
    def __init__(self, registry, tmp, workers:int=1, admin_token:str|None=ADMIN_TOKEN):
        self.port = free_port(); self.url = f'http://127.0.0.1:{self.port}'
        self.log = open(Path(tmp)/f'server-{self.port}.log', 'w+')
        env = {k: v for k, v in os.environ.items() if k != 'HPO_ADMIN_TOKEN'} | {'OMP_WAIT_POLICY': 'PASSIVE'} | ({'HPO_ADMIN_TOKEN': admin_token} if admin_token else {})
        self.proc = subprocess.Popen(['hpo-serve', '--registry', str(registry), '--host', '127.0.0.1', '--port', str(self.port), '--workers', str(workers)],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None: raise RuntimeError(f'hpo-serve exited: {self.output()}')
            try:
                if httpx.get(self.url + '/health', timeout=1).status_code == 200: return
            except httpx.TransportError: time.sleep(0.2)
        self.stop(); raise RuntimeError(f'hpo-serve did not answer within 60 s: {self.output()}')

    def output(self) -> str: self.log.flush(); self.log.seek(0); return self.log.read()[-3000:]
    def stop(self):
        "Stop the server and its worker processes (its whole process group)."
        import signal
        try: os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError: pass
        try: self.proc.wait(10)
        except subprocess.TimeoutExpired: os.killpg(self.proc.pid, signal.SIGKILL); self.proc.wait()
        self.log.close()

@pytest.fixture(scope='module')
def browser():
    _need_browser()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()

