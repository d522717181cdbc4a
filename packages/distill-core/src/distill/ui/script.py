"""What the page does in the browser alone, with no round trip to the server: the A/B player, the
keyboard shortcuts, and a note beside a slider whose typed number was out of its range (Gradio would
clamp it silently). Handed to Gradio as the page's `js` (run once when the page loads)."""

SCRIPT = r"""
() => {
  const $ = (selector) => document.querySelector(selector);
  // A/B: one player, two takes; switching keeps the position and whether it was playing.
  const ab = {
    audio: () => $('#ab-audio'),
    set(side, url, name) {
      const player = this.audio();
      if (!player) return;
      player.dataset[side] = url;
      player.dataset[side + 'name'] = name;
      if (!player.getAttribute('src') || player.dataset.side === side) this.show(side); else this.label();
    },
    show(side) {
      const player = this.audio();
      if (!player || !player.dataset[side]) return;
      const at = player.currentTime || 0, playing = !player.paused;
      player.dataset.side = side;
      if (player.getAttribute('src') !== player.dataset[side]) {
        player.addEventListener('loadedmetadata', () => {
          player.currentTime = Math.min(at, player.duration || at);
          if (playing) player.play();
        }, {once: true});
        player.src = player.dataset[side];
      }
      this.label();
    },
    toggle() { this.show(this.audio()?.dataset.side === 'a' ? 'b' : 'a'); },
    label() {
      const player = this.audio(), shown = $('#ab-side');
      if (!player || !shown) return;
      const name = (side) => player.dataset[side + 'name'] || '–';
      const mark = (side) => (player.dataset.side === side ? '▶ ' : '');
      shown.textContent = `${mark('a')}A: ${name('a')}   ${mark('b')}B: ${name('b')}`;
    },
  };
  window.distillAB = ab;
  let current = null;  // the player last started: what the space bar plays and pauses
  document.addEventListener('play', (e) => { current = e.target; }, true);
  document.addEventListener('click', (e) => {
    const pick = e.target.closest('[data-ab]');
    if (pick) ab.set(pick.dataset.ab, pick.dataset.url, pick.dataset.name);
    if (e.target.closest('#ab-switch')) ab.toggle();
  });
  const press = (selector) => { const button = $(selector); if (button) button.click(); };
  document.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.target.closest?.('input, textarea, select, [contenteditable]')) return;
    if (e.key === ' ') {
      const player = (current && current.isConnected) ? current : ($('#ab-audio[src]') || $('#preview-audio'));
      if (!player) return;
      e.preventDefault();
      if (player.paused) player.play(); else player.pause();
    } else if (e.key === 'ArrowRight') press('#gen-seed-next');
    else if (e.key === 'ArrowLeft') press('#gen-seed-prev');
    else if (e.key === 'a' || e.key === 'b') ab.show(e.key);
  });
  // A number typed into a slider's box outside its range: set it to the nearest end before Gradio reads it
  // (Gradio would clamp it silently, or refuse it with a bare error), and say so beside the slider. Above
  // the maximum at once; below the minimum only when the box is left (a prefix may be below it).
  const checkRange = (e) => {
    const box = e.target;
    if (!(box instanceof HTMLInputElement) || box.type !== 'number') return;
    const block = box.closest('.block'), range = block?.querySelector('input[type=range]');
    if (!range || box.value === '') return;
    const value = parseFloat(box.value), low = parseFloat(range.min), high = parseFloat(range.max);
    let text = '', to = null;
    if (value > high) {
      text = `${box.value} is above this slider's range: it is set to its maximum, ${high}`; to = high;
    }
    else if (value < low && e.type === 'change') {
      text = `${box.value} is below this slider's range: it is set to its minimum, ${low}`; to = low;
    }
    let note = block.querySelector('.distill-clamped');
    if (to === null) { if (e.type === 'input' && value >= low) note?.remove(); return; }
    box.value = String(to);
    if (e.type === 'change') box.dispatchEvent(new Event('input', {bubbles: true}));
    if (!note) { note = document.createElement('div'); note.className = 'distill-clamped'; block.appendChild(note); }
    note.textContent = text;
  };
  document.addEventListener('input', checkRange, true);
  document.addEventListener('change', checkRange, true);
}
"""
