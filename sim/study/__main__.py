"""``python -m sim.study``: runs :func:`sim.study.cli.main` (see that module for the command line)."""

from sim.study.cli import main

raise SystemExit(main())
