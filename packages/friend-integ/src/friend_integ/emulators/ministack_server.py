"""Run MiniStack with its own packages on the server's path only (``python -I <this> DIR``).

MiniStack runs Python functions in worker processes of its own interpreter, so everything on that
interpreter's default path is importable by them. Its environment therefore holds only what the
Lambda python3.13 runtime provides (boto3 and botocore), and MiniStack with its libraries sits in
``DIR``, which only this server process puts on its path: a function whose bundle lacks a package
fails with an import error, as on AWS. ``-I`` keeps this file's folder and ``PYTHON*`` variables
off the path. This file runs in MiniStack's interpreter and imports nothing of the workspace.
"""

import sys

if __name__ == "__main__":
    sys.path.insert(0, sys.argv[1])
    sys.argv = ["ministack"]
    from ministack.app import main

    main()
