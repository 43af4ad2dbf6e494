"""The ``convoflow`` command: wires the client, the worker, the gateway and the servers."""
