"""Long work as jobs: a job kind names a function; a runner runs it in the background and records progress.

The job rows live in the catalog (catalog/jobs_base.py), so every process sharing the catalog sees
them. The embedded runner (embedded.py) runs jobs on threads of the process that submitted them;
a distributed runner will carry the same jobs later without changing their kinds.
"""
