"""Where the assertions of an integ test reach the deployed API."""

from aws_cdk import Aws, CfnCondition, Fn, Stack
from friend_infra.stack import FriendMicroservicesStack


def api_base_url(assertion_stack: Stack, stack: FriendMicroservicesStack) -> str:
    """Base URL of the API's stage, as the assertion functions can reach it.

    On AWS that is the stage URL. An emulator hands out the same URL with its own host in
    place of `amazonaws.com` (LocalStack: `https://<id>.execute-api.127.0.0.1:4566/prod/`),
    which resolves only where the emulator runs a DNS server for it (LocalStack in Docker),
    and not at all for an emulator on the host. Every emulator of API Gateway also serves a
    stage on its own gateway by path (`/_aws/execute-api/<id>/<stage>/` in LocalStack), and
    its gateway's host and port are those of the queue URLs it hands out. CloudFormation
    picks the branch at deploy time, so the template is the same for every target.
    """
    on_aws = CfnCondition(
        assertion_stack,
        "OnAws",
        expression=Fn.condition_or(
            Fn.condition_equals(Aws.URL_SUFFIX, "amazonaws.com"),
            Fn.condition_equals(Aws.URL_SUFFIX, "amazonaws.com.cn"),
        ),
    )
    gateway = Fn.select(2, Fn.split("/", stack.queue_url))
    emulated = Fn.join(
        "",
        [
            "http://",
            gateway,
            "/_aws/execute-api/",
            stack.api.rest_api_id,
            "/",
            stack.api.deployment_stage.stage_name,
            "/",
        ],
    )
    return Fn.condition_if(on_aws.logical_id, stack.api_url, emulated).to_string()
