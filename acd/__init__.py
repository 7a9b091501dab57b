"""Automatic call distribution: agents, skill queues, dispatch and answer-time tracking."""
