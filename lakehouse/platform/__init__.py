"""Running the platform: the native services (services.py, with PostgreSQL and the S3 server in
postgres.py and s3_server.py), Airflow's environment and REST client, following runs
(pipeline.py), and deploying to AWS (deploy.py)."""


class ServiceError(RuntimeError):
    """A native service cannot be built, started or reached; the message says what to do."""
