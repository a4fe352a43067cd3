"""Cluster mode (README, "Cluster mode"): Dagster's storage and the metadata store on
PostgreSQL, runs on Celery workers over Redis (celery_app.py, launcher.py), artifacts in S3.
Nothing is imported here, so reading names.py does not import Celery."""
