"""The rules of the friend graph, free of Lambda plumbing.

:mod:`.player_id` is the grammar of player ids, :mod:`.message` the wire format, :mod:`.actions`
the transitions a player asks for, :mod:`.reactions` how a change of one row is mirrored on the
other row of its pair.
"""
