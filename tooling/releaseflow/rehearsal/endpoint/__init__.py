"""The local AWS endpoint process (`python -m releaseflow.rehearsal.endpoint.server`): moto in server mode
and the services the rehearsal adds (Automation, Run Command, instance information, ELBv2 on HAProxy,
faults)."""
