"""The local rehearsal: a loopback AWS endpoint, host agents and a load balancer on this machine."""
