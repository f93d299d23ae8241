"""A sweep's gallery: index.html (cards sortable by each weight) and contact_sheet.jpg.

Both are made from what is on disk, every finished experiment folder (settings.json + final.png),
so they are right after a resume too, and they refer to images by relative paths, so the sweep
folder can be copied or served as it is.
"""

from __future__ import annotations

import html
import io
import math
import os
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pyimagesearch.nn.conv.atomic import write_atomic
from pyimagesearch.nn.conv.images import load_rgb
from pyimagesearch.nn.conv.run_folder import read_record
from pyimagesearch.nn.conv.settings import as_list
from pyimagesearch.sweep import FINAL

SORT_KEYS = ("content_weight", "style_weight", "tv_weight", "loss")


def finished(folder: str) -> list[dict[str, Any]]:
    """Every finished experiment in the sweep folder: id, settings, final loss (if recorded)."""
    cards = []
    for name in sorted(os.listdir(folder)):
        record_path = os.path.join(folder, name, "settings.json")
        if not (os.path.isfile(os.path.join(folder, name, FINAL)) and os.path.isfile(record_path)):
            continue
        record = read_record(record_path)
        losses = record.get("losses") or [None]
        cards.append({"id": name, "settings": record["settings"], "loss": losses[-1]})
    return cards


def _label(card: dict[str, Any]) -> str:
    s = card["settings"]
    return f"c {s['content_weight']:.3g}  s {s['style_weight']:.3g}  tv {s['tv_weight']:.3g}"


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def contact_sheet(folder: str, cards: list[dict[str, Any]], thumb: int = 256) -> bytes:
    """A labelled grid of every final image, as JPEG bytes."""
    thumbs = []
    for card in cards:
        with Image.open(os.path.join(folder, card["id"], FINAL)) as image:
            image = image.convert("RGB")
        image.thumbnail((thumb - 8, thumb - 8))
        thumbs.append(image)
    columns = max(1, math.ceil(math.sqrt(len(cards))))
    rows = max(1, math.ceil(len(cards) / columns))
    tallest = max((t.height for t in thumbs), default=thumb - 8)
    cell_h = tallest + 48  # 4 px above the image, 4 below, two 20 px lines of text
    font = ImageFont.load_default(size=14)
    sheet = Image.new("RGB", (columns * thumb, rows * cell_h), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (card, image) in enumerate(zip(cards, thumbs, strict=True)):
        x, y = (i % columns) * thumb, (i // columns) * cell_h
        sheet.paste(image, (x + (thumb - image.width) // 2, y + 4 + (tallest - image.height) // 2))
        draw.text((x + 6, y + tallest + 8), card["id"], fill="black", font=font)
        draw.text((x + 6, y + tallest + 26), _label(card), fill="black", font=font)
    return _jpeg(sheet)


def _card_html(card: dict[str, Any]) -> str:
    s = card["settings"]
    data = " ".join(f'data-{k.replace("_", "-")}="{s[k] if k in s else card["loss"]}"' for k in SORT_KEYS)
    loss = f"{card['loss']:.4g}" if card["loss"] is not None else "?"
    cid = html.escape(card["id"])
    layers = html.escape(" + ".join(as_list(s["content_layer"])))
    return (f'<figure class="card" {data}><a href="{cid}/{FINAL}"><img src="{cid}/{FINAL}" '
            f'alt="{cid}" loading="lazy"></a><figcaption><b>{cid}</b><br>content {s["content_weight"]:.4g} · '
            f'style {s["style_weight"]:.4g} · tv {s["tv_weight"]:.4g}<br>{layers} · '
            f'loss {loss} · <a href="{cid}/settings.json">settings</a></figcaption></figure>')


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>NeuralStyle sweep: {title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; background: #fafafa; }}
.inputs, .cards {{ display: flex; flex-wrap: wrap; gap: 1em; }}
.inputs img {{ max-height: 220px; }}
.card {{ margin: 0; background: white; padding: .5em; box-shadow: 0 1px 3px #0003; width: 300px; }}
.card img {{ width: 100%; }}
figcaption {{ font-size: .85em; line-height: 1.4; }}
button {{ margin-right: .4em; }}
</style></head><body>
<h1>Sweep: {title}</h1>
<div class="inputs">
<figure><img src="content.png" alt="content"><figcaption>content: {content}</figcaption></figure>
<figure><img src="style.png" alt="style"><figcaption>style: {style}</figcaption></figure>
</div>
<p>{count} finished experiments. Sort by: {buttons}</p>
<div class="cards" id="cards">
{cards}
</div>
<script>
function sortBy(key, button) {{
  const box = document.getElementById("cards");
  const down = button.dataset.down === "1";
  button.dataset.down = down ? "0" : "1";
  const cards = Array.from(box.children);
  cards.sort((a, b) => (parseFloat(a.dataset[key]) - parseFloat(b.dataset[key])) * (down ? -1 : 1));
  cards.forEach(c => box.appendChild(c));
}}
</script>
</body></html>
"""


def write_gallery(folder: str, content_path: str, style_path: str | list[str]) -> tuple[str, str]:
    """Write index.html and contact_sheet.jpg into the sweep folder; return their paths."""
    style_path = as_list(style_path)[0]  # of several styles, the page shows the first
    for name, source in (("content.png", content_path), ("style.png", style_path)):
        image = Image.fromarray(load_rgb(source).astype(np.uint8))
        image.thumbnail((640, 640))
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        write_atomic(os.path.join(folder, name), buffer.getvalue())
    cards = finished(folder)
    buttons = " ".join(
        f'<button onclick="sortBy(\'{"".join(w.title() if i else w for i, w in enumerate(k.split("_")))}\', this)">'
        f'{k.replace("_", " ")}</button>' for k in SORT_KEYS)
    page = PAGE.format(title=html.escape(os.path.basename(os.path.abspath(folder))),
                       content=html.escape(content_path), style=html.escape(style_path), count=len(cards),
                       buttons=buttons, cards="\n".join(_card_html(card) for card in cards))
    index = os.path.join(folder, "index.html")
    sheet = os.path.join(folder, "contact_sheet.jpg")
    write_atomic(index, page.encode("utf-8"))
    write_atomic(sheet, contact_sheet(folder, cards))
    return index, sheet
