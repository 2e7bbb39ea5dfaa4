"""Manual overrides: the sensor that takes an expired override off the channels, and the
partial refresh the CLI runs in process when no Dagster webserver takes its fast run."""
