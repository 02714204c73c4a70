"""A project module no stage uses: editing it must rebuild nothing."""

ANSWER = 42
