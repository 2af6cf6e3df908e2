"""Support for tests and measurements on an embedded emulator: free ports, started emulators,
AWS clients with test credentials (``emulators``), synthesized stacks deployed through
CloudFormation (``stacks``), the service's stack as a CDK app (``service_app``), and the pytest
fixtures that use them (``fixtures``, a pytest plugin every package's tests get)."""
