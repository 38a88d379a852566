"""``python -m lstm_np <subcommand>``: see :mod:`lstm_np.cli`."""
import sys

from .cli import main

sys.exit(main())
