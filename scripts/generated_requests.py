"""Deploy the app (working tree, write API open) to an embedded emulator on a free port, run the
generated requests against it, print the figures, stop the emulator.

    uv run --package friend-integ python scripts/generated_requests.py [--emulator localstack]

Exit status 0 when no check failed (beyond the lane's named allowance), else 1.
"""

import argparse
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from friend_infra.app import MANIFEST_CONTEXT
from friend_infra.pins import WORKSPACE
from friend_integ.deploy import deploy_app
from friend_integ.emulators import EMULATORS
from friend_integ.emulators.testing import started
from friend_integ.generated_requests import ALLOWANCES, run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emulator", choices=sorted(ALLOWANCES), default="ministack")
    parser.add_argument("--work-dir", type=Path, help="logs and reports (default: a new folder)")
    args = parser.parse_args()
    assert args.emulator in EMULATORS
    work_dir: Path = args.work_dir or Path(tempfile.mkdtemp(prefix="generated-requests-"))
    with contextmanager(started)(args.emulator) as emulator:
        deployment = deploy_app(
            emulator.endpoint, work_dir / "deploy", context={MANIFEST_CONTEXT: WORKSPACE}
        )
        figures, log = run(deployment.api_url, args.emulator, work_dir)
    print("\n".join(figures.lines(args.emulator)))
    print(f"details: {log}")
    return 1 if figures.failures else 0


if __name__ == "__main__":
    sys.exit(main())
