"""What runs on each rehearsal host: the SSM agent stand-in, its script runner, the `systemctl` stand-in,
and EC2 stop/start of a host."""
