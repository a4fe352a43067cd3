"""What the system says about itself: structured logs (logs.py) and the figures behind the
bridge's Prometheus metrics (figures.py: read from the metadata store at scrape time, so what the
run worker processes did is counted; error_types.py: one error type per failure message).

Plain Python with no Dagster imports: the bridge, the asset steps and the tests use it alike.
"""
