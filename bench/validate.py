"""validate.corpus_s: validating every document of the shared corpus, the offline check's cost."""

from __future__ import annotations

import time
from pathlib import Path

from bench.stats import Summary, summarize
from releaseflow.rehearsal.harness.fleet import repo_root
from releaseflow.validation import validate_paths

# The AWS-published documents the unit tests validate too (tests/unit/test_corpus.py).
CORPUS = repo_root() / "tests" / "unit" / "data" / "corpus"


def measure(corpus: Path, runs: int = 3) -> dict[str, Summary | int]:
    """Seconds to validate the corpus, per run, and how many findings it gave (a sanity check)."""
    if not corpus.is_dir():
        raise FileNotFoundError(f"the validation corpus {corpus} is missing")
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        findings = validate_paths([corpus])
        seconds.append(time.perf_counter() - started)
    return {"validate.corpus_s": summarize(seconds), "validate.corpus_findings": len(findings)}
