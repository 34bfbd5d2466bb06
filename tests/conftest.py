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

class Server:
    "`hpo-serve` in a subprocess on a free port of 127.0.0.1."
    def __init__(self, registry, tmp):
        self.port = free_port(); self.url = f'http://127.0.0.1:{self.port}'
        self.log = open(Path(tmp)/f'server-{self.port}.log', 'w+')
        self.proc = subprocess.Popen(['hpo-serve', '--registry', str(registry), '--host', '127.0.0.1', '--port', str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, 'OMP_WAIT_POLICY': 'PASSIVE'})
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None: raise RuntimeError(f'hpo-serve exited: {self.output()}')
            try:
                if httpx.get(self.url + '/health', timeout=1).status_code == 200: return
            except httpx.TransportError: time.sleep(0.2)
        self.stop(); raise RuntimeError(f'hpo-serve did not answer within 60 s: {self.output()}')

    def output(self) -> str: self.log.flush(); self.log.seek(0); return self.log.read()[-3000:]
    def stop(self):
        self.proc.terminate()
        try: self.proc.wait(10)
        except subprocess.TimeoutExpired: self.proc.kill(); self.proc.wait()
        self.log.close()

@pytest.fixture(scope='module')
def browser():
    _need_browser()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()

