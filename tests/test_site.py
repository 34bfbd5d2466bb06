"""The documentation site, built by `hpo-docs` and opened in a real headless Chromium (Debian's `chromium`).

The site is served by a real HTTP server on 127.0.0.1. Every page must load (HTTP 200, no broken internal link),
the API reference of `hpo.etl` must be visible on the ETL page, images must load (decoded, non-zero size), and a
screenshot of each page is saved. Without Chromium the test is skipped, except in CI (`CI=true`), where it fails.
"""
import os, re, shutil, subprocess, sys
from pathlib import Path
from urllib.parse import urljoin, urldefrag, urlparse
import pytest

from conftest import ROOT, SHOTS, _need_browser

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    "Build the site with the real command and serve it on 127.0.0.1."
    out = tmp_path_factory.mktemp('site')/'_docs'
    r = subprocess.run(['hpo-docs', '--out', str(out), '--skip-readme'], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith('hpo-docs: ') and ' pages in ' in r.stdout, r.stdout
    from hpo.etl import serve_folder
    with serve_folder(out) as url: yield out, url + '/'

def _pages(out:Path)->list:
    "Every notebook's page in the built site."
    return sorted(p.relative_to(out).as_posix() for p in out.rglob('*.html')
                  if not p.name.startswith(('genindex', 'search')) and '_static' not in p.parts)

def test_every_notebook_has_a_page(site):
    out, _ = site
    from hpo.docs import page_name
    nbs = [p.relative_to(ROOT/'nbs').as_posix() for p in (ROOT/'nbs').rglob('*.ipynb')
           if not any(part.startswith(('_', '.')) for part in p.relative_to(ROOT/'nbs').parts)]
    assert '04_mlops/01_registry.ipynb' in nbs                     # the notebooks of a stage's folder too
    assert {f'{page_name(nb)}.html' for nb in nbs} <= set(_pages(out))

def _api_names(module:str)->set:
    "The public names nbdev indexed for `module` (hpo/_modidx.py)."
    from hpo._modidx import d
    return {n for k in d['syms'].get(module, {}) if not (n := k.split('.', 2)[2].split('.')[0]).startswith('_')}

def test_pages_in_browser(site, browser):
    out, base = site
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={'width': 1280, 'height': 900})
    failed = []
    page.on('requestfailed', lambda rq: failed.append(rq.url) if rq.url.startswith(base) else None)
    page.on('response', lambda rs: failed.append(f'{rs.status} {rs.url}') if rs.url.startswith(base) and rs.status >= 400 else None)
    links, checked = {}, {}
    for rel in _pages(out):
        resp = page.goto(urljoin(base, rel), wait_until='load')
        assert resp is not None and resp.status == 200, rel
        title = page.title()
        assert title and 'HPO' in title, (rel, title)
        # images: every <img> decoded with a real size
        imgs = page.eval_on_selector_all('img', '''els => els.map(e => ({src: e.currentSrc || e.src,
                ok: e.complete && e.naturalWidth > 0 && e.naturalHeight > 0}))''')
        bad = [i['src'] for i in imgs if not i['ok']]
        assert not bad, (rel, bad)
        checked[rel] = len(imgs)
        # internal links, with their anchors
        for href in page.eval_on_selector_all('a[href]', 'els => els.map(e => e.href)'):
            if href.startswith(base): links.setdefault(href, rel)
        page.screenshot(path=str(SHOTS/(rel.replace('/', '_') + '.png')), full_page=False)
    assert not failed, failed
    assert checked.get('etl.html', 0) >= 1, f'the ETL page shows no image: {checked}'
    # every internal link resolves: the page exists, and its anchor (if any) is an element id on it
    anchors = {}
    for href, src in sorted(links.items()):
        url, frag = urldefrag(href)
        path = urlparse(url).path.lstrip('/') or 'index.html'
        if path.endswith('/'): path += 'index.html'
        if path.startswith('_static/') or path.startswith('_sources/'): continue
        assert (out/path).exists(), f'{src} links to {href}: no such page'
        if frag and path.endswith('.html'):
            if path not in anchors:
                page.goto(urljoin(base, path), wait_until='load')
                anchors[path] = set(page.eval_on_selector_all('[id]', 'els => els.map(e => e.id)'))
            assert frag in anchors[path], f'{src} links to {href}: no anchor #{frag} on {path}'
    page.close()

def test_api_reference_visible(site, browser):
    "Each public name of hpo.etl has a visible heading with its anchor on the ETL page, with its signature."
    out, base = site
    names = _api_names('hpo.etl')
    assert {'read_ons_load', 'build_dataset', 'hpo_etl', 'FetchError'} <= names   # DataError, shared by every stage, is hpo.core's now
    page = browser.new_page()
    page.goto(urljoin(base, 'etl.html'), wait_until='load')
    # the anchor nbdev links to (`etl.html#read_ons_load`) must lead to a visible heading naming the function
    found = page.evaluate('''names => Object.fromEntries(names.map(n => {
        const a = document.getElementById(n.toLowerCase()) || document.getElementById(n);
        if (!a) return [n, null];
        const sec = a.closest('section') || a.parentElement;
        const h = a.matches('h1,h2,h3,h4,h5,h6') ? a : sec.querySelector('h1,h2,h3,h4,h5,h6');
        return [n, h && h.offsetHeight > 0 ? h.innerText : null];
    }))''', sorted(names))
    missing = [n for n, h in found.items() if not (h and h.strip().startswith(n))]
    assert not missing, f'no visible API entry on etl.html for {missing}'
    text = page.inner_text('main') if page.locator('main').count() else page.inner_text('body')
    assert re.search(r'read_ons_load\s*\(\s*path', text), 'the signature of read_ons_load is not shown'
    page.close()

def test_readme_is_the_home_page():
    "README.md is what nbs/index.ipynb gives (run `hpo-docs` after editing the home page)."
    from hpo.docs import readme_md
    assert (ROOT/'README.md').read_text(encoding='utf-8') == readme_md(ROOT/'nbs'/'index.ipynb')
