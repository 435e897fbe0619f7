"""Background work: training jobs and project runs in their own process; status files, locks, stop, cancel, resume.

- jobs: the training-job API (create, start, status, list, stop, cancel, resume);
- job_folder: what a job folder holds, its states, JobConfig;
- job_worker: inside the job process (run_job; ``python -m kd_core.runtime.jobs run DIR``);
- runs: a project step's background run (expansion, prompt distillation, evaluation, recipe);
- lifecycle: the rules a background process lives by, shared by jobs and runs;
- device_lock: one piece of work per device;
- process: pids, detached starts, signals, waiting for an exit.
"""
