import sys

from digitnet.cli import main

sys.exit(main())
