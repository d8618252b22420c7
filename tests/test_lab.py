"""``backprop-course lab``: the command line it builds, the settings it passes, and its errors.

The browser tests (test_browser_*.py) start JupyterLab through this command and check what a student
then sees; these tests pin down the command itself and run without a browser.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backprop_lib.cli import main
from backprop_lib.course import lab
from notebook_text import ROOT


def _course(tmp_path: Path) -> Path:
    for name in ("02_second.ipynb", "01_first.ipynb", "notes.ipynb"):
        (tmp_path / "lessons").mkdir(exist_ok=True)
        (tmp_path / "lessons" / name).write_text("{}")
    (tmp_path / "exercises").mkdir()
    return tmp_path


def test_the_course_folder_is_found_from_inside_it(tmp_path):
    course = _course(tmp_path)
    assert lab.course_root(course) == course
    assert lab.course_root(course / "exercises") == course


def test_outside_a_course_the_installed_repository_is_used(tmp_path):
    assert (tmp_path / "lessons").exists() is False
    assert lab.course_root(tmp_path) == ROOT


def test_no_course_anywhere_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(lab, "PACKAGE_PARENT", tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(lab.NoCourse, match="lessons/ folder"):
        lab.course_root(tmp_path)
    assert main(["lab"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no course here") and "Traceback" not in err


def test_the_command_opens_the_first_lesson_with_the_course_folder_as_root(tmp_path):
    course = _course(tmp_path)
    command = lab.lab_command(course, as_root=False)
    assert command[:3] == [sys.executable, "-m", "jupyterlab"]
    assert f"--ServerApp.root_dir={course}" in command
    assert command[-1] == str(course / "lessons" / "01_first.ipynb")
    assert "--allow-root" not in command


def test_as_root_jupyterlab_is_allowed_to_run_once(tmp_path):
    course = _course(tmp_path)
    assert lab.lab_command(course, as_root=True).count("--allow-root") == 1
    assert lab.lab_command(course, ["--allow-root"], as_root=True).count("--allow-root") == 1


def test_other_arguments_go_to_jupyterlab_in_order(tmp_path):
    course = _course(tmp_path)
    command = lab.lab_command(course, ["--port", "9000", "--no-browser"], as_root=False)
    assert command[-3:] == ["--port", "9000", "--no-browser"]
    assert str(course / "lessons" / "01_first.ipynb") in command  # 9000 is not a path to open


def test_a_path_given_replaces_the_first_lesson(tmp_path, monkeypatch):
    course = _course(tmp_path)
    monkeypatch.chdir(course)
    command = lab.lab_command(course, ["exercises"], as_root=False)
    assert command[-1] == "exercises"
    assert not any(arg.endswith(".ipynb") for arg in command)


def test_the_course_settings_come_first_and_others_are_kept():
    env = lab.lab_environment({"JUPYTER_CONFIG_PATH": os.pathsep.join(["/a", "/b"]), "OTHER": "1"})
    assert env["JUPYTER_CONFIG_PATH"].split(os.pathsep) == [str(lab.CONFIG), "/a", "/b"]
    assert env["OTHER"] == "1"
    assert lab.lab_environment({})["JUPYTER_CONFIG_PATH"] == str(lab.CONFIG)


def test_the_course_settings_are_valid_for_the_installed_jupyterlab():
    from jupyterlab.commands import get_app_dir

    overrides = json.loads((lab.CONFIG / "labconfig" / "default_setting_overrides.json").read_text())
    assert overrides, "no settings"
    schemas = Path(get_app_dir()) / "schemas"
    for plugin, values in overrides.items():
        package, name = plugin.split(":")
        schema = json.loads((schemas / package / f"{name}.json").read_text())
        for key, value in values.items():
            spec = schema["properties"][key]
            assert value in spec.get("enum", [value]), f"{plugin} {key}={value!r} is not one of {spec['enum']}"
            assert type(value).__name__ == {"boolean": "bool", "string": "str"}[spec["type"]], (plugin, key)
    notification = overrides["@jupyterlab/apputils-extension:notification"]
    assert notification == {"fetchNews": "false", "checkForUpdates": False}


def test_the_launcher_becomes_jupyterlab_with_the_course_settings(tmp_path, monkeypatch):
    course = _course(tmp_path)
    monkeypatch.chdir(course / "exercises")
    calls = []
    monkeypatch.setattr(os, "execve", lambda path, args, env: calls.append((path, args, env)))
    main(["lab", "--no-browser"])
    [(path, args, env)] = calls
    assert path == sys.executable and args == lab.lab_command(course, ["--no-browser"])
    assert env["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0] == str(lab.CONFIG)


def test_jupyterlab_accepts_the_command_line():
    done = subprocess.run([sys.executable, "-m", "backprop_lib", "lab", "--version"], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()[0].isdigit()
