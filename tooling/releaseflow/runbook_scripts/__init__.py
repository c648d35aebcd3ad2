"""The Python of the runbooks' aws:executeScript steps, one module a script (inlined by `make runbooks`)."""

# How a script module is written, so that devtools/runbooks.py can inline it whole into automation/:
# aws:executeScript runs one self-contained script with only the standard library and boto3.
# - It imports the standard library, boto3, and only two things of this package: constants of
#   releaseflow.ssm (written out in the script as their literal values, under their own comment) and
#   definitions of releaseflow.runbook_scripts.shared (written out, with what they use).
# - Its handler is `handler(events, context, *, <clients>=None, clock=time)`: Automation passes only
#   events and context, so the handler makes its own boto3 clients (shared.client) and uses `time`;
#   tests and `releaseflow plan` pass fake clients and a fake clock instead.
# - The runbook carries its handler's docstring, for operators; its module docstring, its comments and
#   its other functions' docstrings stay here (a runbook's content counts against SSM's 64 KB).
