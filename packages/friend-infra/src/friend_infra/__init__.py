"""CDK app and stack of the friend microservice.

Importing the package first silences jsii's banner about the host's Node.js release (it is
printed on every synth and hides real output); the CDK itself runs fine on Node 20.
"""

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
