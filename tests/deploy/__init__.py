"""Production deploys: Worker Versioning, scale-out over several workers, tracing."""
