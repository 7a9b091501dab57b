"""Automatic call distribution: agents, skill queues, the decision core, the service level, and putting waiting
callers through to agents over legs of the call model."""
