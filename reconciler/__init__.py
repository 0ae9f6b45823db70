"""symsync: keep Sentry project symbol sources in step with versioned YAML."""

__version__ = "0.1.0"
