#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image: it installs Python,
# bubblewrap and the course into /autograder/venv, the environment run_autograder grades with.
# Testing the zip on a machine whose Python already has numpy and matplotlib, set
# BACKPROP_AUTOGRADER_PYTHON to that Python: nothing is installed but the course, into a
# virtual environment that sees its packages.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv=/autograder/venv
quiet=(--no-cache-dir --disable-pip-version-check)

if [ -n "${BACKPROP_AUTOGRADER_PYTHON:-}" ]; then
    "$BACKPROP_AUTOGRADER_PYTHON" -m venv --system-site-packages --without-pip "$venv"
    pip=("$BACKPROP_AUTOGRADER_PYTHON" -m pip --python "$venv/bin/python")
else
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends python3 python3-venv bubblewrap
    python3 -m venv "$venv"
    pip=("$venv/bin/python" -m pip)
    "${pip[@]}" install "${quiet[@]}" @REQUIREMENTS@
fi
"${pip[@]}" install "${quiet[@]}" --no-deps --no-index "$here/@WHEEL@"
