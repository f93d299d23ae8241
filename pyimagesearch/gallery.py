"""A sweep's gallery: index.html (cards sortable by each weight) and contact_sheet.jpg.

Both are made from what is on disk, every finished experiment folder (settings.json + final.png),
so they are right after a resume too, and they refer to images by relative paths, so the sweep
folder can be copied or served as it is. The page is a plain file that works opened from disk: a
star on each card is kept in the browser's local storage (or given in the address, #star=003,007; the
web page's stars, in the folder's stars.json, are starred from the start),
and the page writes the commands that double down on the starred experiments (--around) and
render each of them big (--render); it filters to one generation or to the starred cards.
"""

from __future__ import annotations

import html
import io
import json
import math
import os
import shlex
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pyimagesearch.nn.conv.atomic import write_atomic
from pyimagesearch.nn.conv.images import load_rgb
from pyimagesearch.nn.conv.run_folder import read_record
from pyimagesearch.nn.conv.settings import as_list
from pyimagesearch.sweep import FINAL, experiment_names, lineage, starred

SORT_KEYS = ("content_weight", "style_weight", "tv_weight", "loss")


def finished(folder: str) -> list[dict[str, Any]]:
    """Every finished experiment in the sweep folder: id, settings, final loss (if recorded)."""
    cards = []
    for name in experiment_names(folder):
        record_path = os.path.join(folder, name, "settings.json")
        if not (os.path.isfile(os.path.join(folder, name, FINAL)) and os.path.isfile(record_path)):
            continue
        record = read_record(record_path)
        losses = record.get("losses") or [None]
        cards.append({"id": name, "settings": record["settings"], "loss": losses[-1],
                      "terms": (record.get("terms") or [{}])[-1], **lineage(os.path.join(folder, name))})
    return cards


def _label(card: dict[str, Any]) -> str:
    s = card["settings"]
    return f"c {s['content_weight']:.3g}  s {s['style_weight']:.3g}  tv {s['tv_weight']:.3g}"


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def contact_sheet(folder: str, cards: list[dict[str, Any]], thumb: int = 256,
                  label: Any = _label) -> bytes:
    """A labelled grid of every final image, as JPEG bytes; label(card) is each one's second line."""
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
        draw.text((x + 6, y + tallest + 26), label(card), fill="black", font=font)
    return _jpeg(sheet)


def _card_html(card: dict[str, Any]) -> str:
    s = card["settings"]
    data = " ".join(f'data-{k.replace("_", "-")}="{s[k] if k in s else card["loss"]}"' for k in SORT_KEYS)
    loss = f"{card['loss']:.4g}" if card["loss"] is not None else "?"
    if card.get("terms"):  # the run's own terms, whichever it had (older runs recorded none)
        loss += " (" + ", ".join(f"{html.escape(name)} {value:.3g}" for name, value in card["terms"].items()) + ")"
    cid = html.escape(card["id"])
    layers = html.escape(" + ".join(as_list(s["content_layer"])))
    origin = (f'generation {card["generation"]} · around <a href="#{html.escape(card["parent"])}">'
              f'{html.escape(card["parent"])}</a>' if card["parent"] else "generation 1")
    return (f'<figure class="card" id="{cid}" data-id="{cid}" data-generation="{card["generation"]}" {data}>'
            f'<button class="star" title="star: keep this one" onclick="toggle(\'{cid}\')">☆</button>'
            f'<a href="{cid}/{FINAL}"><img src="{cid}/{FINAL}" alt="{cid}" loading="lazy"></a><figcaption>'
            f'<b>{cid}</b> · {origin}<br>content {s["content_weight"]:.4g} · style {s["style_weight"]:.4g} · '
            f'tv {s["tv_weight"]:.4g} · {html.escape(str(s.get("style_loss", "gram")))} style loss<br>{layers} · '
            f'loss {loss} · <a href="{cid}/settings.json">settings</a>'
            f'</figcaption></figure>')


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>NeuralStyle sweep: {title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; background: #fafafa; }}
.inputs, .cards {{ display: flex; flex-wrap: wrap; gap: 1em; }}
.inputs img {{ max-height: 220px; }}
.card {{ margin: 0; background: white; padding: .5em; box-shadow: 0 1px 3px #0003; width: 300px; position: relative; }}
.card.starred {{ box-shadow: 0 0 0 3px #e6a100; }}
.card img {{ width: 100%; }}
.star {{ position: absolute; top: .7em; right: .7em; font-size: 1.6em; line-height: 1; background: #fffd;
         border: none; border-radius: .2em; cursor: pointer; color: #e6a100; }}
figcaption {{ font-size: .85em; line-height: 1.4; }}
button {{ margin-right: .4em; }}
#commands {{ background: #fff; border: 1px solid #ddd; padding: .6em 1em; }}
#commands pre {{ white-space: pre-wrap; margin: .3em 0; user-select: all; }}
</style></head><body>
<h1>Sweep: {title}</h1>
<div class="inputs">
<figure><img src="content.png" alt="content"><figcaption>content: {content}</figcaption></figure>
<figure><img src="style.png" alt="style"><figcaption>style: {style}</figcaption></figure>
</div>
<p>{count} finished experiments. Sort by: {buttons}
Show: <select id="show" onchange="refresh()"><option value="all">all</option>
<option value="starred">starred</option>{generations}</select></p>
<div id="commands"><b>Starred: <span id="starred">none yet</span></b> — star the pictures you like (☆), then copy:
<pre id="around">(star some cards first)</pre>
Render each starred one big, at <input id="size" type="number" value="{size}" min="32" step="32" style="width:5em"
 oninput="refresh()"> px:
<pre id="render"></pre></div>
<div class="cards" id="cards">
{cards}
</div>
<script>
const SWEEP = {sweep};
const KEY = "neuralstyle-stars:" + location.pathname;
let starred = new Set();
try {{ starred = new Set(JSON.parse(localStorage.getItem(KEY) || "[]")); }} catch (e) {{}}
SWEEP.stars.forEach(id => starred.add(id));  // starred on the local web page (the folder's stars.json)
const asked = /star=([^&]*)/.exec(location.hash);
if (asked) decodeURIComponent(asked[1]).split(",").filter(Boolean).forEach(id => starred.add(id));
function save() {{
  try {{ localStorage.setItem(KEY, JSON.stringify([...starred].sort())); }} catch (e) {{}}
}}
function toggle(id) {{
  if (starred.has(id)) starred.delete(id); else starred.add(id);
  save();
  refresh();
}}
function refresh() {{
  const show = document.getElementById("show").value;
  const ids = [];
  for (const card of document.querySelectorAll(".card")) {{
    const on = starred.has(card.dataset.id);
    if (on) ids.push(card.dataset.id);
    card.classList.toggle("starred", on);
    card.querySelector(".star").textContent = on ? "★" : "☆";
    card.hidden = show === "starred" ? !on : show !== "all" && card.dataset.generation !== show;
  }}
  ids.sort();
  const size = document.getElementById("size").value;
  document.getElementById("starred").textContent = ids.length ? ids.join(", ") : "none yet";
  document.getElementById("around").textContent = ids.length
    ? `${{SWEEP.command}} --around ${{ids.join(" ")}} --experiments ${{Math.max(4, 4 * ids.length)}}`
    : "(star some cards first)";
  document.getElementById("render").textContent =
    ids.map(id => `${{SWEEP.command}} --render ${{id}} --max-size ${{size}}`).join("\\n");
}}
function sortBy(key, button) {{
  const box = document.getElementById("cards");
  const down = button.dataset.down === "1";
  button.dataset.down = down ? "0" : "1";
  const cards = Array.from(box.children);
  cards.sort((a, b) => (parseFloat(a.dataset[key]) - parseFloat(b.dataset[key])) * (down ? -1 : 1));
  cards.forEach(c => box.appendChild(c));
}}
refresh();
</script>
</body></html>
"""


def _thumbnail(source: Any, path: str, side: int = 640) -> None:
    image = Image.fromarray(load_rgb(source).astype(np.uint8))
    image.thumbnail((side, side))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    write_atomic(path, buffer.getvalue())


def write_gallery(folder: str, content_path: str, style_path: str | list[str]) -> tuple[str, str]:
    """Write index.html and contact_sheet.jpg into the sweep folder; return their paths."""
    style_path = as_list(style_path)[0]  # of several styles, the page shows the first
    for name, source in (("content.png", content_path), ("style.png", style_path)):
        _thumbnail(source, os.path.join(folder, name))
    cards = finished(folder)
    buttons = " ".join(
        f'<button onclick="sortBy(\'{"".join(w.title() if i else w for i, w in enumerate(k.split("_")))}\', this)">'
        f'{k.replace("_", " ")}</button>' for k in SORT_KEYS)
    generations = sorted({card["generation"] for card in cards})
    options = "".join(f'<option value="{g}">generation {g}</option>' for g in generations)
    # The command the page writes, as run from where this sweep was started (its folder as given).
    command = f"python generate_examples.py --output-path {shlex.quote(folder)}"
    sizes = [max(card["settings"].get("max_size") or 0, 0) for card in cards]
    page = PAGE.format(title=html.escape(os.path.basename(os.path.abspath(folder))),
                       content=html.escape(str(content_path)), style=html.escape(str(style_path)), count=len(cards),
                       buttons=buttons, generations=options, size=max([1024, *[2 * s for s in sizes]]),
                       sweep=json.dumps({"command": command, "stars": sorted(starred(folder))}).replace("</", "<\\/"),
                       cards="\n".join(_card_html(card) for card in cards))
    index = os.path.join(folder, "index.html")
    sheet = os.path.join(folder, "contact_sheet.jpg")
    write_atomic(index, page.encode("utf-8"))
    write_atomic(sheet, contact_sheet(folder, cards))
    return index, sheet


# -- a batch of photos (pyimagesearch/batch.py): each card shows the photo and its painting -------

BATCH_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>NeuralStyle batch: {title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; background: #fafafa; }}
.cards {{ display: flex; flex-wrap: wrap; gap: 1em; }}
.style img {{ max-height: 220px; }}
.card {{ margin: 0; background: white; padding: .5em; box-shadow: 0 1px 3px #0003; width: 440px; }}
.pair {{ display: flex; gap: .4em; }} .pair a {{ flex: 1; }} .pair img {{ width: 100%; }}
figcaption {{ font-size: .85em; line-height: 1.4; }}
</style></head><body>
<h1>Batch: {title}</h1>
<figure class="style"><img src="style.png" alt="style"><figcaption>style: {style}</figcaption></figure>
<p>{done} of {count} photos painted{waiting}.</p>{skipped}
<div class="cards">
{cards}
</div>
</body></html>
"""


def _batch_card(experiment: Any, loss: float | None) -> str:
    cid = html.escape(experiment.id)
    shown = f"{loss:.4g}" if loss is not None else "?"
    return (f'<figure class="card" id="{cid}"><div class="pair">'
            f'<a href="{cid}/photo.png"><img src="{cid}/photo.png" alt="{cid}: photo" loading="lazy"></a>'
            f'<a href="{cid}/{FINAL}"><img src="{cid}/{FINAL}" alt="{cid}: painted" loading="lazy"></a></div>'
            f'<figcaption><b>{html.escape(experiment.title or cid)}</b> → {cid}/ · loss {shown} · '
            f'<a href="{cid}/settings.json">settings</a></figcaption></figure>')


def write_batch_gallery(folder: str, photos: list[Any], style_path: str | list[str],
                        skipped: Sequence[tuple[str, str]] = ()) -> str:
    """Write index.html and contact_sheet.jpg for a batch (its finished photos); return the page's path.

    photos: the batch's Experiments; each finished one's photo is copied small beside its painting,
    so the page works opened from disk and the folder can be moved as it is. skipped: (file, why)
    of the files that were not painted, listed under the count."""
    _thumbnail(as_list(style_path)[0], os.path.join(folder, "style.png"))
    cards, shown = [], []
    for experiment in photos:
        if not experiment.done:
            continue
        photo = os.path.join(experiment.folder, "photo.png")
        if not os.path.isfile(photo):
            _thumbnail(experiment.settings["input_path"], photo)
        record = read_record(os.path.join(experiment.folder, "settings.json"))
        loss = (record.get("losses") or [None])[-1]
        cards.append(_batch_card(experiment, loss))
        shown.append({"id": experiment.id, "title": experiment.title or experiment.id, "loss": loss})
    waiting = len(photos) - len(cards)
    page = BATCH_PAGE.format(title=html.escape(os.path.basename(os.path.abspath(folder))),
                             style=html.escape(str(as_list(style_path)[0])), done=len(cards), count=len(photos),
                             waiting=f"; {waiting} still to do (run the same command again)" if waiting else "",
                             skipped="<p>Not painted: " + "; ".join(
                                 f"{html.escape(os.path.basename(path))} ({html.escape(why)})" for path, why in skipped)
                             + "</p>" if skipped else "",
                             cards="\n".join(cards))
    index = os.path.join(folder, "index.html")
    write_atomic(index, page.encode("utf-8"))
    def caption(card: dict[str, Any]) -> str:
        return card["title"] if card["loss"] is None else f"{card['title']} · loss {card['loss']:.3g}"

    write_atomic(os.path.join(folder, "contact_sheet.jpg"), contact_sheet(folder, shown, label=caption))
    return index
