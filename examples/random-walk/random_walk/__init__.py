"""The code of the example post "A random walk, live" (content/posts/random-walk.md)."""
