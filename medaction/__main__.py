import sys

from medaction.cli import main

sys.exit(main())
