"""The census sample: a project that uses mlmax as any user's project does.

Its jobs (`jobs/`, declared in `jobs.toml`), the data generator (`data/`), its pipeline
(`pipeline/`), the run report (`report/`) and a small host-trained model (`sample_model.py`).
It needs the `census` extra's libraries; mlmax itself never imports it (an import-linter
contract), and reaches it only by name (`mlmax.project.load_sample`).
"""
