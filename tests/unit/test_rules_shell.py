"""The shell checks behind E108: which shell judges a script, and degrading without shellcheck."""

from pathlib import Path

import pytest

from releaseflow.rules import _shell


@pytest.mark.parametrize(
    ("script", "shell"),
    [
        ("echo hi", "sh"),
        ("#!/bin/sh\necho hi", "sh"),
        ("#!/bin/bash\necho hi", "bash"),
        ("#!/usr/bin/env bash\necho hi", "bash"),
        ("#!/usr/bin/env -S python3 -u\nprint()", None),
        ("#!/usr/bin/python3\nprint()", None),
    ],
)
def test_interpreter_follows_the_shebang(script, shell):
    """The #! line picks the shell (sh without one); a non-shell interpreter is not checked."""
    assert _shell.interpreter(script) == shell


def test_without_a_shebang_only_what_bash_refuses_too_is_an_error():
    """A bash array without #! parses on Amazon Linux's sh (bash), so it is no error; an unclosed if is."""
    _shell.problems.cache_clear()
    assert _shell.problems("items=(a b)\necho ${items[0]}") == ()
    assert [p.line for p in _shell.problems("if true; then\n  echo x")] == [2]


def test_placeholders_are_read_as_one_word():
    """{{ Name }} is substituted before the shell reads the script, so its braces are no syntax."""
    _shell.problems.cache_clear()
    assert _shell.problems('#!/bin/sh\ncd {{ AppDir }} && echo "{{ Revision }}"') == ()


def test_without_shellcheck_sh_n_alone_and_one_notice(tmp_path, monkeypatch):
    """With no shellcheck on PATH, sh -n still finds syntax errors and a notice says so once."""
    for tool in ("sh", "bash"):
        (tmp_path / tool).symlink_to(Path("/bin") / tool)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(_shell, "_notices", set())
    _shell.problems.cache_clear()
    try:
        assert [p.tool for p in _shell.problems("#!/bin/bash\nif [ -n x]; then :; fi")] == []
        assert [p.tool for p in _shell.problems("#!/bin/bash\nif true; then")] == ["bash -n"]
        assert _shell.notices() == [
            "shellcheck not found: aws:runShellScript scripts were checked with sh -n alone"
        ]
    finally:
        _shell.problems.cache_clear()


def test_validate_says_once_that_shellcheck_is_missing(tmp_path, monkeypatch, capsys):
    """`releaseflow validate` without shellcheck prints one note on stderr, however many scripts."""
    from releaseflow.cli import main

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "bash"):
        (bin_dir / tool).symlink_to(Path("/bin") / tool)
    fixture = Path(__file__).parent / "fixtures" / "rules" / "E108" / "good" / "shell-scripts.yaml"
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(_shell, "_notices", set())
    _shell.problems.cache_clear()
    try:
        assert main(["validate", str(fixture)]) == 0
    finally:
        _shell.problems.cache_clear()
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert notes == ["note: shellcheck not found: aws:runShellScript scripts were checked with sh -n alone"]
