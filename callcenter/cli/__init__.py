"""The ``callcenter`` command line (click): one module per command group."""
