"""Which deployment a command may act on, and the exact environment its tools get for it.

Fail closed is the rule: an emulator target gets test credentials, a fixed region and an
endpoint, and nothing from the user's AWS configuration can leak in (no profile, no session
token, no config or credentials file, no instance metadata), so no tool can fall through to a
real account. Real AWS is only ever used when the user names the account, and the account the
credentials resolve to is checked against that name before anything else happens.

The ``integ`` command (friend-integ) and the recovery commands (friend-ops) both choose their
target by these rules; this package holds them so that neither depends on the other, and the
recovery commands install without the CDK.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

LOOPBACK = "127.0.0.1"
"""Where emulators listen: loopback only."""
DEFAULT_PORT = 4566
"""LocalStack's port, which every LocalStack-compatible emulator and its users' tools default to."""
LOCALSTACK_ACCOUNT = "000000000000"
"""The account LocalStack answers for with test credentials."""
REGION = "us-east-1"
"""The one region of every emulator run: the tests pin it and LocalStack's defaults use it."""
DEFAULT_ENDPOINT = f"http://{LOOPBACK}:{DEFAULT_PORT}"
"""Where a LocalStack-compatible emulator answers unless told otherwise (embedded or the user's)."""
LOOPBACK_HOSTS = (LOOPBACK, "localhost", "::1")

# Variables that select credentials or endpoints other than ours. Every `AWS_*` variable is
# dropped for emulator targets; these are dropped for AWS targets too, where the user's own
# credentials are wanted but a leftover emulator endpoint would silently redirect calls.
_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
_CDK_TARGET_VARIABLES = (
    "CDK_DEFAULT_ACCOUNT",
    "CDK_DEFAULT_REGION",
    "CDK_DEPLOY_ACCOUNT",
    "CDK_DEPLOY_REGION",
)
"""The CDK's own target variables: dropped for an emulator, set to the named account for AWS,
so a tool that reads them cannot deploy anywhere else."""


class TargetKind(StrEnum):
    EMBEDDED = "embedded emulator"
    """An emulator the command started itself."""
    EMULATOR = "LocalStack-compatible emulator"
    AWS = "AWS"
    NONE = "no target (snapshot check only)"
    """Nothing is reached at all (``integ --snapshot-only``)."""


@dataclass(frozen=True)
class Target:
    """A deployment target: what it is, the account and region, and its endpoint if any."""

    kind: TargetKind
    account: str
    region: str = REGION
    endpoint: str | None = None
    name: str | None = None
    """What exactly runs there, when known (e.g. `embedded MiniStack 1.5.33`)."""

    @property
    def is_emulator(self) -> bool:
        return self.kind in (TargetKind.EMBEDDED, TargetKind.EMULATOR)

    def describe(self) -> str:
        where = f" at {self.endpoint}" if self.endpoint else ""
        return (
            f"{self.name or self.kind.value}{where}, account {self.account}, region {self.region}"
        )


class TargetError(Exception):
    """The target is not what the command was asked for: stop before touching anything."""


def normalize_endpoint(url: str) -> str:
    """Validate a LocalStack endpoint and use the loopback IP instead of `localhost`.

    With a host name, the CDK toolkit addresses S3 buckets as `<bucket>.<host>`, which does not
    resolve for `localhost`; with an IP address it uses path-style requests.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.port is None:
        raise TargetError(f"endpoint must look like {DEFAULT_ENDPOINT}, got {url!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise TargetError(f"endpoint must have no path or query, got {url!r}")
    host = LOOPBACK if parts.hostname == "localhost" else parts.hostname
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets in a URL
    return urlunsplit((parts.scheme, f"{host}:{parts.port}", "", "", ""))


def without_proxy_for(env: Mapping[str, str], endpoint: str) -> dict[str, str]:
    """`env` with `NO_PROXY`/`no_proxy` extended by loopback and `endpoint`'s host.

    Every tool must reach the same server, so a user's `HTTP(S)_PROXY` stays in effect for the
    internet (package downloads) but never for the emulator.
    """
    names = ("NO_PROXY", "no_proxy")
    present = [item for name in names for item in env.get(name, "").split(",") if item]
    hosts = [*present, *LOOPBACK_HOSTS, urlsplit(endpoint).hostname or ""]
    bypass = ",".join(dict.fromkeys(filter(None, hosts)))
    return dict(env) | dict.fromkeys(names, bypass)


def _without_aws(base: Mapping[str, str]) -> dict[str, str]:
    return {
        key: value
        for key, value in base.items()
        if not key.startswith("AWS_") and key not in _CDK_TARGET_VARIABLES
    }


def localstack_environment(
    base: Mapping[str, str], endpoint: str, empty_config: Path
) -> dict[str, str]:
    """The environment for tools that must reach the emulator at `endpoint` and nothing else.

    `empty_config` is an empty file that stands in for the AWS config and credentials files,
    so neither `~/.aws/config` (profiles, credential processes, endpoints) nor
    `~/.aws/credentials` can contribute anything.
    """
    env = without_proxy_for(_without_aws(base), endpoint)
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_CONFIG_FILE": str(empty_config),
            "AWS_SHARED_CREDENTIALS_FILE": str(empty_config),
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    return env


def aws_environment(base: Mapping[str, str], region: str, account: str) -> dict[str, str]:
    """The environment for real AWS: the user's credentials, AWS's own endpoints, `region`,
    and `account` as the CDK's target account, so nothing is deployed anywhere else."""
    env = {
        key: value
        for key, value in base.items()
        if key not in _CDK_TARGET_VARIABLES
        and not any(key.startswith(name) for name in _ENDPOINT_VARIABLES)
    }
    env["AWS_REGION"] = region
    env["AWS_DEFAULT_REGION"] = region
    env["CDK_DEFAULT_ACCOUNT"] = account
    env["CDK_DEFAULT_REGION"] = region
    return env


def emulator_target(
    base: Mapping[str, str], endpoint: str, empty_config: Path
) -> tuple[Target, dict[str, str]]:
    """A LocalStack-compatible emulator named by the user at `endpoint` (normalized), and the
    environment that reaches it and nothing else (see :func:`localstack_environment`)."""
    url = normalize_endpoint(endpoint)
    target = Target(TargetKind.EMULATOR, LOCALSTACK_ACCOUNT, endpoint=url)
    return target, localstack_environment(base, url, empty_config)


def aws_target(
    base: Mapping[str, str], account: str, region: str = REGION
) -> tuple[Target, dict[str, str]]:
    """The AWS account the user named, and the environment that deploys only there (see
    :func:`aws_environment`); :func:`check_account` proves the credentials answer for it."""
    return Target(TargetKind.AWS, account, region), aws_environment(base, region, account)


def check_account(target: Target, actual_account: str | None) -> None:
    """Refuse a target whose credentials resolve to another account than the one named."""
    if actual_account is None:
        raise TargetError(
            f"could not resolve the caller identity on {target.describe()}: "
            "check the endpoint or credentials"
        )
    if actual_account != target.account:
        raise TargetError(
            f"credentials resolve to account {actual_account}, not {target.account} "
            f"({target.kind.value}): refusing to deploy"
        )
