"""Loaded by pytest before the test folders' own conftest.py and before any test module.

nbval is loaded from here rather than by pytest's automatic plugin loading (pyproject.toml turns that
off for it with ``-p no:nbval``; a run that empties addopts loads it the usual way, and then this file
leaves it alone), so that this file runs first: nbval imports nbformat, which imports
jsonschema, which imports rfc3987_syntax whenever it is installed (JupyterLab's dependencies install
it) to check the "iri" format. That import builds an Earley parser, about 0.9 s of CPU in each of the
suite's pytest processes. nbformat validates notebooks with fastjsonschema and its schema checks no
format, so no test process needs it; the command line does the same (backprop_lib/cli.py).
"""
import sys

if "jsonschema" not in sys.modules:
    sys.modules.setdefault("rfc3987_syntax", None)  # import rfc3987_syntax now raises ImportError

pytest_plugins = [] if "nbval.plugin" in sys.modules else ["nbval.plugin"]
