"""The friend microservice's Lambda code.

- :mod:`friend_handlers.handlers`: the entry points, one module per function;
- :mod:`friend_handlers.logic`: the rules, free of AWS event shapes;
- :mod:`friend_handlers.contract`: the names a deployment wires (read by the stack at synth);
- the rest is what entry points share: table access (:mod:`.dal`), the stream side's
  dispatch (:mod:`.stream`), at-most-once handling (:mod:`.redelivery`), parking invalid
  messages (:mod:`.dead_letter`), logs/metrics/traces (:mod:`.observability`).
"""
