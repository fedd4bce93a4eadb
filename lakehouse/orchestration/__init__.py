"""The pipeline as Airflow sees it: the DAG builders (dags.py), the task factories that ask the
profile's backends for operators and sensors (tasks.py), the task bodies (steps.py), the
configuration check every run starts with (preflight.py), and alerts (alerts.py)."""
