"""A generic, cached, incremental and deterministic build of a post's figures and generated
Markdown sections."""
