"""``python -m friend_ops``: the same as the ``friend-ops`` command."""

import sys

from friend_ops.cli import main

sys.exit(main())
