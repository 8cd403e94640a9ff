"""Code shared by the management and runtime services: models, settings, Redis layout, errors."""
