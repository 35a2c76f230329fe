from mpbench.cli import main

raise SystemExit(main())
