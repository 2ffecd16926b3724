from softfact.cli import main

raise SystemExit(main())
