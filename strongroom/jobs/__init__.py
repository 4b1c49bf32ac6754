"""Long work as durable jobs: a job kind is written once, as one function or as plan -> chunks -> finalize.

Every job and every step is a row in the catalog (catalog/jobs_base.py), so any process sharing the
catalog sees it and any worker can pick up, resume or skip a step from the catalog alone. execute.py
runs one step (lease, progress, cancellation, fan-in, failure) for both runners: the embedded runner
(embedded.py: steps on this process's threads and process pool, queued in the catalog) and the Celery
runner (celery_runner.py: steps carried by RabbitMQ to `strongroom worker` on any host). runners.py
opens the one `[jobs]` asks for; inline.py runs a kind start to finish with no runner at all.
"""
