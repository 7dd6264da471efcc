from gmvae.cli import main

raise SystemExit(main())
