import sys

from rhdesk.cli import main

sys.exit(main())
