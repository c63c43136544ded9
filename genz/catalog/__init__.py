"""Facts about things: model zoo and specs, hardware presets, dtypes, units, serving stacks, use cases."""
