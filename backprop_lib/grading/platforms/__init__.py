"""The course's grader inside Gradescope's and PrairieLearn's per-submission containers.

Both platforms run one submission per container, as root, and read one results.json. The grading
is the same code as ``backprop-course grade`` (``runner.grade_notebook`` and its sandbox); what
differs per platform is only where the submission lies, where the results go and their schema:

- ``submission``: the shared part: find the notebook, make the container's files safe from the
  sandbox, grade, and write the results once every process of the sandbox is gone;
- ``gradescope``, ``prairielearn``: each platform's results.json and what an instructor uploads
  (an autograder.zip; a Docker image's recipe);
- ``bundle``: the course as a wheel built from this installation, which both install;
- ``command``: the ``backprop-course autograder`` command.

Nothing here is imported by ``backprop-course`` until the command runs.
"""
