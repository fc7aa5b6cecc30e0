"""``audiera``: the client command line, a thin layer over the node's RPC.

It keeps people's keys (node/keystore.py), signs events locally and sends only signed
bytes to the node, so the node never sees a private key. One module per area of
commands; ``main`` builds the parser and maps every expected failure onto one line on
stderr and an exit status (1 runtime, 2 usage).
"""
