"""`python -m bench`: measure every figure, write build/bench.json, print the table."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import engine, fleets, peer, publish, rehearsal, report, scale, validate
from releaseflow.rehearsal.harness.fleet import repo_root
from releaseflow.rehearsal.harness.fleet_record import FleetRecord

LIGHT_SIZES = (10, 50)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (default 3)")
    parser.add_argument("--output", type=Path, default=repo_root() / "build" / "bench.json")
    parser.add_argument("--corpus", type=Path, default=validate.CORPUS)
    args = parser.parse_args(argv)
    started = time.monotonic()
    figures: dict = {}

    def step(text: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {text}", file=sys.stderr, flush=True)

    step("validate: the corpus")
    figures.update(validate.measure(args.corpus, args.runs))
    step("scale: the deploy's planning part over 1,000 hosts")
    figures.update(scale.measure(args.runs))
    for size in LIGHT_SIZES:
        step(f"engine: {size} light hosts")
        with fleets.light(size) as light:
            figures.update(engine.measure(light, args.runs))
            if size == LIGHT_SIZES[0]:
                step("publish: unchanged and one changed document")
                figures.update(publish.measure(light.client("ssm"), repo_root(), args.runs))
    figures["engine.step_overhead_growth"] = engine.growth(figures, *LIGHT_SIZES)
    step("rehearsal: 3 Rails hosts (local up)")
    with fleets.rails(3) as state_dir:
        first, second = FleetRecord.load(state_dir).revisions[:2]
        alternate = [second if n % 2 == 0 else first for n in range(args.runs)]
        step("rehearsal: rolling deploys through `releaseflow deploy`")
        figures.update(rehearsal.measure(state_dir, alternate))
        step("rehearsal: the same deploys with a 30 s deregistration delay, without and with traffic")
        # Each pair deploys the other revision, then back: the fleet ends where the peer expects it.
        current = alternate[-1]
        pairs = [(first if current == second else second, current)] * args.runs
        figures.update(rehearsal.measure_long_delay(state_dir, pairs))
        step("rehearsal: deploys that fail on the last host and roll the fleet back")
        figures.update(rehearsal.measure_rollback(state_dir, current, args.runs))
        step("peer: the same rollout with ansible-playbook")
        figures.update(peer.measure(state_dir, [first if r == second else second for r in alternate]))
    figures["peer.ansible_ratio"] = round(
        figures["rehearsal.deploy_s"].median / figures["peer.ansible_s"].median, 3
    )
    figures["rehearsal.rollback_to_switch_ratio"] = round(
        figures["rehearsal.rollback_s"].median / figures["rehearsal.switch_s"].median, 3
    )
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": args.runs,
        "machine": f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}",
        "seconds": round(time.monotonic() - started, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report.to_json(figures, meta), indent=2) + "\n")
    print(report.table(figures), end="")
    print(f"written to {args.output} in {meta['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
