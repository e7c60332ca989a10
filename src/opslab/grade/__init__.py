"""Grading learner submissions in sandboxed kernels (``opslab grade``; the verb is in ``cli.py``).

``batch`` grades many submissions, ``collect`` finds them, ``compose`` builds the graded notebook,
``execute``/``executor`` run it, ``jail``/``sandbox`` confine the kernel, ``score``/``report`` mark it.
"""
