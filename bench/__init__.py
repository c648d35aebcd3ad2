"""`make bench`: releaseflow's cost, measured on the rehearsal and reported as build/bench.json."""
