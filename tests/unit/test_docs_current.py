"""Every generated doc is current, the generator keeps the hand-written rest, and the README's guide matches the code."""

import re

import pytest

from devtools.docs import (
    MAKEFILE,
    README,
    ROOT,
    DocsError,
    debian_packages,
    generated_files,
    load_sources,
    markers,
    parameter_tables,
    replace_generated,
    stale_files,
)
from releaseflow.cli import build_parser


def test_every_generated_file_is_current():
    """docs/parameters.md, docs/rules.md and README.md equal what `make docs` writes now."""
    assert stale_files() == [], "generated docs are stale: run `make docs`"


def test_generated_files_cover_parameters_rules_and_packages():
    """`make docs` regenerates the parameter tables, the rules table and the README's package list."""
    names = {path.relative_to(ROOT).as_posix() for path in generated_files()}
    assert names == {"docs/parameters.md", "docs/rules.md", "README.md"}


def test_every_document_and_parameter_is_listed():
    """Each document has a section, each of its parameters a row; a pipe in a pattern stays in its cell."""
    documents = load_sources()
    tables = parameter_tables(documents)
    assert len(documents) == 8
    for document in documents:
        assert f"## {document.name}\n" in tables
        for name in document.content["parameters"]:
            assert f"| `{name}` |" in tables
    assert "`^(auto\\|[1-9][0-9]{0,4})$`" in tables


def test_readme_lists_the_makefile_packages():
    """The README's Debian package list is the Makefile's DEB_PACKAGES, every one, in order."""
    packages = debian_packages(MAKEFILE.read_text())
    assert {"git", "haproxy", "postgresql", "ruby-rails"} <= set(packages)
    start, end = markers("debian-packages")
    text = README.read_text()
    listed = re.findall(r"`([^`]+)`", text[text.index(start) : text.index(end)])
    assert listed == packages


def test_debian_packages_joins_continuation_lines():
    """A DEB_PACKAGES value continued over lines with backslashes is read whole."""
    makefile = "X := 1\nDEB_PACKAGES := git curl \\\n\truby-pg \\\n\truby-listen\nY := 2\n"
    assert debian_packages(makefile) == ["git", "curl", "ruby-pg", "ruby-listen"]


def test_makefile_without_packages_is_an_error():
    """A Makefile without DEB_PACKAGES is refused rather than listing no package."""
    with pytest.raises(DocsError, match="no DEB_PACKAGES"):
        debian_packages("all:\n\ttrue\n")


def test_replace_keeps_text_outside_the_markers():
    """Only the text between the markers of the named part changes."""
    start, end = markers("parameters")
    text = f"intro\n{start}\nold\n{end}\noutro\n"
    assert replace_generated(text, "new | row") == f"intro\n{start}\nnew | row\n{end}\noutro\n"


def test_missing_markers_are_an_error():
    """A file without the markers is refused rather than overwritten."""
    with pytest.raises(DocsError, match="no <!-- generated:debian-packages:start -->"):
        replace_generated("# README\n", "tables", "debian-packages")


def test_readme_has_both_commands():
    """The README's two commands stay literally `make demo` and `make test`, and the Makefile has both."""
    text = README.read_text()
    makefile = MAKEFILE.read_text()
    for target in ("demo", "test"):
        assert f"make {target}   #" in text
        assert re.search(rf"^{target}:", makefile, re.MULTILINE)


def test_readme_cli_has_one_line_per_command():
    """Every `releaseflow` subcommand has exactly one line in the README's CLI block, and no other command does."""
    parser = build_parser()
    subcommands = next(action for action in parser._actions if action.dest == "command")
    text = README.read_text()
    block = text[text.index("## The CLI") :]
    block = block[block.index("```\n") + 4 : block.index("\n```", block.index("```\n"))]
    named = [line.split()[1] for line in block.splitlines()]
    assert sorted(named) == sorted(subcommands.choices)


def test_readme_make_targets_exist():
    """Every `make TARGET` the README names is a target of the Makefile."""
    makefile = MAKEFILE.read_text()
    for target in set(re.findall(r"`(?:sudo )?make ([a-z-]+)`", README.read_text())):
        assert re.search(rf"^{re.escape(target)}:", makefile, re.MULTILINE), target


def test_local_links_resolve():
    """Every relative link in README.md and docs/*.md points at a file that exists."""
    for page in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" not in target:
                assert (page.parent / target).exists(), f"{page.name}: {target}"
