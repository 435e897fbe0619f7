"""Background work: training jobs and project runs in their own process; status files, locks, stop, cancel, resume."""
