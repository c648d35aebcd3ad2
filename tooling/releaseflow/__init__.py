"""releaseflow: SSM documents, runbooks and tooling for rolling Rails deploys to an EC2 fleet."""

__version__ = "0.1.0"
