"""The tag that marks instances of "other fleets" (`local up --foreign-instances`): no host behind them,
the endpoint heartbeats for them, so they are online managed nodes that list before the fleet's own.

A module of its own because the harness tags them and the endpoint answers for them: importing the
endpoint's services would load moto's EC2 models (over a second of CPU) into every `releaseflow local`
command."""

FOREIGN_TAG = "releaseflow:rehearsal-foreign"
