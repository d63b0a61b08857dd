import sys

from docmodel.cli import main

sys.exit(main())
