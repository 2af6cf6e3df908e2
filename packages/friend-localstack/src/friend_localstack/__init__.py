"""The LocalStack lane of the integ command: open-source LocalStack on the host, with our
extension, behind friend-integ's emulator interface (registered as ``localstack``)."""

from friend_localstack.emulator import EmbeddedLocalStack

__all__ = ["EmbeddedLocalStack"]
