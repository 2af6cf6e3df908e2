"""CDK app and stack of the friend microservice.

Importing the package first, before anything imports ``aws_cdk``, makes the CDK ready to load:
it mends an install where another wheel's copy of one of aws-cdk-lib's files won (see
`cdk_install`), and it silences jsii's banner about the host's Node.js release (printed on every
synth, it hides real output; the CDK itself runs fine on Node 20).
"""

import os

from friend_infra import cdk_install

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
cdk_install.mend()
