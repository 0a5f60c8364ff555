"""seedscope workers: Celery tasks that fine-tune, generate and judge. The only place torch is imported."""
