"""A tiny deterministic SVG writer."""


def scatter_svg(points):
    dots = "".join(f'<circle cx="{50 + 10 * x:.3f}" cy="{50 + 10 * y:.3f}" r="1"/>'
                   for x, y in points)
    return f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">{dots}</svg>\n'
