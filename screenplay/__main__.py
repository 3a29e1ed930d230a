"""`python -m screenplay`: the command line of the screenplay package (see `screenplay.cli`)."""

from __future__ import annotations

from screenplay.cli import main

raise SystemExit(main())
