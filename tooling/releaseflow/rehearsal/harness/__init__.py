"""The harness that brings a rehearsal fleet up and down (`releaseflow local`): the state folder and
fleet.json, first provisioning, the app's git remote, HAProxy."""
