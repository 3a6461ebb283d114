"""The application: the runtime, `tanya serve` and the CLI; the only place that wires every layer together."""
