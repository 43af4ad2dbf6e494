"""Example agents: ``convoflow dev --agents examples.support --agent support``."""
