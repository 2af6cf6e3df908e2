"""What the real Lambda Node.js runtimes ship besides Node: the AWS SDK v3 clients.

CDK's own Node handlers (integ-tests-alpha's assertion provider, custom resources) ``require``
``@aws-sdk/client-*`` because AWS's runtime provides them. Neither emulator does, so both get
the clients pinned by the committed ``emulators/lambda-runtime/nodejs/package-lock.json``,
installed once into the emulator's state folder and put on the functions' ``NODE_PATH``.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping
from pathlib import Path

from filelock import FileLock

from friend_integ.emulators.install import InstallError, run_checked
from friend_integ.paths import PACKAGE_DIR

NODEJS_MANIFEST_DIR = PACKAGE_DIR / "emulators" / "lambda-runtime" / "nodejs"
NODEJS_LOCK = NODEJS_MANIFEST_DIR / "package-lock.json"
_STAMP = ".installed"


def install_node_sdk(runtime_dir: Path, env: Mapping[str, str]) -> Path:
    """``npm ci`` the pinned clients into ``runtime_dir/nodejs`` (once); its ``node_modules``.

    ``env`` is the installer's environment (the caller's registry, proxy and certificates).
    """
    target = runtime_dir / "nodejs"
    modules = target / "node_modules"
    digest = hashlib.sha256(NODEJS_LOCK.read_bytes()).hexdigest()
    stamp = target / _STAMP
    with FileLock(runtime_dir / ".nodejs.lock"):
        if stamp.is_file() and stamp.read_text().strip() == digest and modules.is_dir():
            return modules
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(NODEJS_MANIFEST_DIR / name, target / name)
        npm = shutil.which("npm")
        if npm is None:
            raise InstallError("npm not found: install Node.js 20 or newer (it brings npm)")
        run_checked(
            [npm, "ci", "--omit=dev", "--no-audit", "--no-fund", "--ignore-scripts"],
            "installing the AWS SDK v3 clients for Node functions",
            cwd=target,
            env=env,
        )
        stamp.write_text(digest + "\n")
    return modules
