"""Draw the icons of the agents' phone app (dashboards/agent_app/icon-192.png and icon-512.png).

Run once after changing the drawing; the PNG files are committed (the server serves files, it builds
nothing). Shapes only, no font: the result does not depend on the fonts of the machine.

    .venv/bin/python scripts/make_agent_icons.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[1] / "dashboards" / "agent_app"
GREEN, WHITE, GOLD, GOLD_DARK = (11, 93, 59), (255, 255, 255), (242, 183, 5), (150, 100, 0)
SCALE = 4   # drawn larger, then reduced: smooth edges


def draw(size: int) -> Image.Image:
    s = size * SCALE
    image = Image.new("RGB", (s, s), GREEN)   # full bleed: "maskable" icons are cut by the launcher
    pen = ImageDraw.Draw(image)
    u = s / 100   # the drawing stays inside the middle 70 %, the safe zone of a maskable icon
    pen.polygon([(22 * u, 50 * u), (50 * u, 24 * u), (78 * u, 50 * u)], fill=WHITE)    # roof
    pen.rectangle([30 * u, 48 * u, 70 * u, 76 * u], fill=WHITE)                          # walls
    pen.rectangle([44 * u, 60 * u, 56 * u, 76 * u], fill=GREEN)                          # door
    pen.ellipse([60 * u, 56 * u, 84 * u, 80 * u], fill=GOLD, outline=GOLD_DARK, width=int(2 * u))  # the rent
    return image.resize((size, size), Image.LANCZOS)


def main() -> None:
    for size in (192, 512):
        draw(size).save(OUT / f"icon-{size}.png", optimize=True)
        print(OUT / f"icon-{size}.png")


if __name__ == "__main__":
    main()
