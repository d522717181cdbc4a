"""The takes under the Generate tab: every clip rendered, newest first, kept in the library (so a page
reload or a server restart keeps them), each with a picture, a player, its settings and vocoder; star,
rename, delete, download, Recall (its settings back into the controls), and A or B of the A/B player
(script.py switches it in the browser, keeping the position)."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import attrs
import gradio as gr

import distill

from .. import DistillError
from .parts import Context, guarded
from .views import file_url, note_html

SHOWN = 60  # takes listed (the newest; the rest stay on disk)
AB_PLAYER = """<div class="distill-ab" id="ab-panel"><b>A/B</b>
<audio id="ab-audio" controls preload="auto"></audio>
<button id="ab-switch" type="button">A ⇄ B</button> <span id="ab-side">choose A and B among the takes below</span>
<div class="distill-note">Keys (outside text boxes): space plays or pauses, ← and → step the seed, A and B switch
the A/B player at the same position</div></div>"""

# A click on a take's button becomes one `select` event: the take's id, and the action with the name
# typed beside it (a delete asks for a second click first).
TAKE_CLICKS = """
element.addEventListener('click', (e) => {
  const button = e.target.closest('button[data-act]');
  const row = button && button.closest('[data-take]');
  if (!row) return;
  if (button.dataset.act === 'delete' && !button.dataset.armed) {
    button.dataset.armed = '1';
    button.textContent = 'Delete? Click again';
    return;
  }
  const name = row.querySelector('.take-name')?.value || '';
  trigger('select', {index: row.dataset.take, value: button.dataset.act + ':' + name});
});
"""


def takes_html(takes: list[distill.Take], url: Callable[[Any], str] = file_url) -> str:
    if not takes:
        return note_html("No takes yet: every Generate keeps its clips here, and a page reload keeps them too.")
    rows = []
    for take in takes[:SHOWN]:
        kept = take.controls
        about = " · ".join(str(part) for part in (kept.get("model"), f"seed {kept.get('seed')}",
                                                  f"{take.seconds:.1f} s", take.vocoder) if part)
        name, clip = html.escape(take.name), html.escape(url(take.clip))
        picture = f'<img src="{html.escape(url(take.picture))}" alt="">' if take.picture.is_file() else ""
        rows.append(
            f'<div class="distill-take" data-take="{html.escape(take.id)}">'
            f'<button type="button" data-act="star" class="take-star" title="star">{"★" if take.starred else "☆"}'
            f"</button>{picture}"
            f'<input class="take-name" value="{name}" aria-label="take name">'
            f'<button type="button" data-act="rename">Rename</button>'
            f'<span class="take-about">{html.escape(about)}</span>'
            f'<audio controls preload="none" src="{clip}"></audio>'
            f'<button type="button" data-ab="a" data-url="{clip}" data-name="{name}">A</button>'
            f'<button type="button" data-ab="b" data-url="{clip}" data-name="{name}">B</button>'
            f'<button type="button" data-act="recall">Recall</button>'
            f'<a href="{clip}" download="{html.escape(take.clip.name)}">Download</a>'
            f'<button type="button" data-act="delete">Delete</button></div>')
    more = len(takes) - SHOWN
    tail = note_html(f"…and {more} older takes, kept in the library") if more > 0 else ""
    return f'<div class="distill-takes">{"".join(rows)}</div>{tail}'


@attrs.define
class TakesPanel:
    store: distill.Takes
    takes: Any  # the list (gr.HTML)
    message: Any

    def listing(self) -> str:
        return takes_html(self.store.all())

    def wire_recall(self, recall: Callable[[distill.Take, str | None], list[Any]], model: Any,
                    outputs: list[Any]) -> None:
        """Connect the takes' buttons: `recall(take, model shown now)` gives the updates of `outputs`."""
        store = self.store

        def on_take(evt: gr.SelectData, current: str | None) -> list[Any]:
            take_id, (action, _, name) = str(evt.index), str(evt.value).partition(":")
            untouched = [gr.skip()] * len(outputs)
            if action == "recall":
                take = store.get(take_id)
                return [gr.skip(), note_html(f"recalled {take.name!r}: its settings are in the controls above"),
                        *recall(take, current)]
            if action == "star":
                take = store.star(take_id)
                said = f"{'starred' if take.starred else 'unstarred'} {take.name!r}"
            elif action == "rename":
                old = store.get(take_id).name
                take = store.rename(take_id, name)
                said = f"renamed {old!r} to {take.name!r}"
            elif action == "delete":
                take = store.delete(take_id)
                said = f"deleted {take.name!r} and its files"
            else:
                raise DistillError(f"unknown action {action!r} on a take")
            return [self.listing(), note_html(said), *untouched]

        self.takes.select(guarded(on_take, 2 + len(outputs), message_at=1), inputs=model,
                          outputs=[self.takes, self.message, *outputs], api_visibility="private")


def build(context: Context, store: distill.Takes) -> TakesPanel:
    gr.Markdown("### Takes")
    gr.HTML(AB_PLAYER, elem_id="gen-ab")
    message = gr.HTML(elem_id="takes-message")
    takes = gr.HTML(lambda: takes_html(store.all()), elem_id="gen-takes", js_on_load=TAKE_CLICKS)
    return TakesPanel(store, takes, message)
