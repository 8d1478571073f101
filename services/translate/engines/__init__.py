"""Translation engines: one module per engine, each behind the :class:`Engine` interface."""
