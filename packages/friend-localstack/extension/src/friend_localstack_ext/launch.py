"""Run LocalStack's runtime (``localstack.runtime.main``), then exit without interpreter teardown.

Once LocalStack's own shutdown has run (services stopped, Lambda runtimes ended, the server
closed), nothing is left to do but exit. Python's regular teardown would then clear every
module and collect garbage again and again over LocalStack's object graph (service models,
moto's backends), and every stop would wait seconds for nothing (the package README has the
times).
"""

from __future__ import annotations

import logging
import os
import sys

from localstack.runtime.main import main as localstack_main


def run() -> None:
    try:
        localstack_main()
        code: object = 0
    except SystemExit as exit_:
        code = exit_.code
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    if code is None:
        code = 0
    os._exit(code if isinstance(code, int) else 1)


if __name__ == "__main__":
    run()
