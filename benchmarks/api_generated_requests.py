"""Deploy the service's stack (working tree, write API open) to an embedded emulator on a free
port, send it the generated requests, print the figures, stop the emulator.

    uv run --package friend-integ python benchmarks/api_generated_requests.py [--emulator X]

The stack is the one the pytest tests on an emulator deploy (``CloudAssembly.of_service``).
Exit status 0 when no check failed beyond the lane's named allowances, else 1.
"""

import argparse
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from friend_integ.generated_requests import ALLOWANCES, run
from friend_integ.test_support.emulators import client_factory, started
from friend_integ.test_support.stacks import SERVICE_STACK, CloudAssembly

STACK = "FriendGeneratedRequests"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--emulator", choices=sorted(ALLOWANCES), default="ministack")
    parser.add_argument("--work-dir", type=Path, help="logs and reports (default: a new folder)")
    args = parser.parse_args()
    work_dir: Path = args.work_dir or Path(tempfile.mkdtemp(prefix="generated-requests-"))
    with contextmanager(started)(args.emulator) as emulator:
        aws_client = client_factory(emulator.endpoint)
        assembly = CloudAssembly.of_service(work_dir / "cdk.out", aws_client)
        try:
            deployment = assembly.deployment(SERVICE_STACK, STACK)
            figures, log = run(deployment.api_url, args.emulator, work_dir)
        finally:
            assembly.destroy()
    print("\n".join(figures.lines(args.emulator)))
    print(f"details: {log}")
    return 1 if figures.failures else 0


if __name__ == "__main__":
    sys.exit(main())
