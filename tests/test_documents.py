"""Loading documents: plain content, line numbers for keys and items, parse errors with their line."""

import pytest

from releaseflow.documents import find_document_files, parse_document
from releaseflow.errors import DocumentError

YAML_TEXT = """\
schemaVersion: "2.2"
description: demo
mainSteps:
  - name: First
    action: aws:runShellScript
    inputs:
      runCommand:
        - echo one
        - echo two
"""

JSON_TEXT = '{\n\t"schemaVersion": "0.3",\n\t"mainSteps": [\n\t\t{\n\t\t\t"name": "A",\n\t\t\t"action": "aws:sleep"\n\t\t}\n\t]\n}\n'


def test_yaml_lines_point_at_keys_and_items():
    """Every key and list item of a YAML document knows its source line."""
    document = parse_document(YAML_TEXT, "documents/demo-Doc.yaml")
    assert document.line(("mainSteps", 0, "action")) == 5
    assert document.line(("mainSteps", 0, "inputs", "runCommand", 1)) == 9
    assert document.name == "demo-Doc"
    assert document.document_type == "Command"


def test_json_with_tabs_parses_and_keeps_lines():
    """JSON files are parsed as JSON (AWS's contain tabs) and still report lines."""
    document = parse_document(JSON_TEXT, "x/aws-Thing.json")
    assert document.content["mainSteps"][0]["action"] == "aws:sleep"
    assert document.line(("mainSteps", 0, "action")) == 6
    assert document.document_type == "Automation"


def test_unknown_path_falls_back_to_nearest_ancestor():
    """A path below a known key reports the key's line."""
    document = parse_document(YAML_TEXT, "d.yaml")
    assert document.line(("mainSteps", 0, "inputs", "nothing", 3)) == 6


def test_yaml_number_schema_version_stays_a_number():
    """`schemaVersion: 2.2` unquoted is a float, so a rule can reject it."""
    document = parse_document("schemaVersion: 2.2\nmainSteps: []\n", "d.yaml")
    assert document.schema_version == 2.2
    assert document.document_type is None


@pytest.mark.parametrize(
    ("text", "path", "line"),
    [("a: [1, 2\nb: 3\n", "d.yaml", 2), ('{\n  "a": 1,\n  "b": \n}\n', "d.json", 4)],
)
def test_parse_errors_name_file_and_line(text, path, line):
    """A syntax error raises DocumentError naming the file and the line."""
    with pytest.raises(DocumentError, match=rf"^{path}:{line}: "):
        parse_document(text, path)


def test_loop_steps_are_listed_with_their_paths():
    """Document.steps() walks into aws:loop's nested steps."""
    text = """\
schemaVersion: "0.3"
mainSteps:
  - name: Loop
    action: aws:loop
    inputs:
      Iterators: [a, b]
      Steps:
        - name: Inner
          action: aws:sleep
"""
    document = parse_document(text, "r.yaml")
    assert [(path, step["name"]) for path, step in document.steps()] == [
        (("mainSteps", 0), "Loop"),
        (("mainSteps", 0, "inputs", "Steps", 0), "Inner"),
    ]


def test_find_document_files_rejects_missing_paths(tmp_path):
    """A PATH that does not exist is an error naming it, not an empty result."""
    with pytest.raises(DocumentError, match="nope: no such file or folder"):
        find_document_files([tmp_path / "nope"])
