"""Support for tests and measurements on an embedded emulator: free ports, started emulators,
AWS clients with test credentials (``emulators``), synthesized stacks deployed through
CloudFormation (``stacks``). The fixtures that use them are in the package's ``conftest.py``."""
