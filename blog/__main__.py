"""python -m blog: see blog/cli.py."""

from blog.cli import cli

if __name__ == "__main__":
    cli(prog_name="python -m blog")
