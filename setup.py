"""Packaging for HPO. Every setting lives in settings.ini (nbdev's single source); this file only reads it.

No `pkg_resources`: it is gone from current setuptools.
"""
from configparser import ConfigParser
from pathlib import Path
import setuptools

here = Path(__file__).parent
config = ConfigParser(delimiters=['='])
config.read(here/'settings.ini', encoding='utf-8')
cfg = config['DEFAULT']

licenses = {'apache2': ('Apache Software License 2.0', 'OSI Approved :: Apache Software License')}
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable', '6 - Mature', '7 - Inactive']
lic = licenses[cfg['license']]
min_python = cfg['min_python']
py_versions = ['3.10', '3.11', '3.12', '3.13']

def _split(key): return cfg.get(key, '').split()

# The bundled real sample (data/) is installed beside the environment as share/hpo/data, so that a pip-installed
# `hpo` finds its default data outside a checkout (see `hpo.etl.default_data_dir`).
data_files = [(str(Path('share', 'hpo', p.parent)), [str(p)])
              for p in sorted(Path('data').rglob('*')) if p.is_file()]

setuptools.setup(
    name=cfg['lib_name'],
    version=cfg['version'],
    description=cfg['description'],
    long_description=(here/'README.md').read_text(encoding='utf-8') if (here/'README.md').exists() else '',
    long_description_content_type='text/markdown',
    author=cfg['author'], author_email=cfg['author_email'],
    license=lic[0],
    url=cfg['git_url'],
    keywords=cfg['keywords'],
    classifiers=[f'Development Status :: {statuses[int(cfg["status"])]}',
                 f'Intended Audience :: {cfg["audience"]}',
                 f'License :: {lic[1]}',
                 f'Natural Language :: {cfg["language"]}',
                 'Topic :: Scientific/Engineering'] +
                [f'Programming Language :: Python :: {v}' for v in py_versions[py_versions.index(min_python):]],
    packages=setuptools.find_packages(include=['hpo', 'hpo.*']),
    include_package_data=True,
    python_requires=f'>={min_python}',
    install_requires=_split('requirements'),
    extras_require={'dev': _split('dev_requirements')},
    data_files=data_files,
    entry_points={'console_scripts': cfg.get('console_scripts', '').split(),
                  'nbdev': [f'{cfg["lib_path"]}={cfg["lib_path"]}._modidx:d']},
    zip_safe=False,
)
