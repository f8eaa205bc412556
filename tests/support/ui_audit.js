// The phone audit's checks, run in the page by tests/support/ui_audit.py. WCAG 2.x relative
// luminance and contrast; backgrounds found by walking up the ancestors and compositing the
// translucent ones; an element's own and its ancestors' opacity blend its text towards the
// background, as the screen shows it.
({
  /** Findings on the whole page: covered header controls, stray :hover rules, small targets,
   * cut, off-screen, small or faint text. */
  audit() {
    const findings = [];
    const vw = window.innerWidth, vh = window.innerHeight;
    const parse = (c) => {
      const m = c.match(/rgba?\(([^)]+)\)/);
      if (!m) return [0, 0, 0, 0];
      const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
      return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    };
    const lin = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    const lum = ([r, g, b]) => 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
    const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((m, n) => n - m); return (x + 0.05) / (y + 0.05); };
    const over = (top, under) => {
      const a = top[3];
      return [0, 1, 2].map((i) => top[i] * a + under[i] * (1 - a)).concat([1]);
    };
    const visible = (el) => {
      if (!el.isConnected) return false;
      const s = getComputedStyle(el);
      if (s.visibility === 'hidden' || s.display === 'none') return false;
      const r = el.getBoundingClientRect();
      if (r.width < 1 || r.height < 1) return false;
      // Off screen (scrolled away) still counts: a full page is audited, not only what shows.
      for (let e = el; e; e = e.parentElement) {
        if (getComputedStyle(e).opacity === '0') return false;
      }
      return true;
    };
    const background = (el) => {
      const layers = [];
      for (let e = el; e; e = e.parentElement) {
        const c = parse(getComputedStyle(e).backgroundColor);
        if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
      }
      let bg = [255, 255, 255, 1];
      for (let i = layers.length - 1; i >= 0; i -= 1) bg = over(layers[i], bg);
      return bg;
    };
    const opacity = (el) => {
      let o = 1;
      for (let e = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity);
      return o;
    };
    const describe = (el) => {
      const id = el.dataset?.action ? `[data-action=${el.dataset.action}]` : '';
      const cls = typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\s+/).join('.') : '';
      return `${el.tagName.toLowerCase()}${cls}${id} "${(el.textContent || '').trim().slice(0, 30)}"`;
    };
  
    // 1. Header controls: what is on top at each one's centre and corners is the control itself.
    const controls = [...document.querySelectorAll('.topbar button, .room-bar button, .room-bar select, .console-bar button')]
      .filter(visible);
    for (const c of controls) {
      const r = c.getBoundingClientRect();
      // The centre and points a quarter in from each side (a rounded corner is not the button).
      const [x1, x2, y1, y2] = [r.left + r.width / 4, r.right - r.width / 4, r.top + r.height / 4, r.bottom - r.height / 4];
      const pts = [[r.left + r.width / 2, r.top + r.height / 2], [x1, y1], [x2, y1], [x1, y2], [x2, y2]];
      for (const [x, y] of pts) {
        if (x < 0 || y < 0 || x >= vw || y >= vh) continue;
        const top = document.elementFromPoint(x, y);
        if (top && !c.contains(top)) {
          findings.push({ check: 'covered', what: describe(c), by: describe(top) });
          break;
        }
      }
    }
  
    // 1b. Hover colours only under @media (hover: hover): on a touch screen a :hover rule sticks
    // after a tap and hides the state colour (the raised hand, the muted microphone).
    for (const sheet of document.styleSheets) {
      const walk = (rules, inHover) => {
        for (const rule of rules) {
          if (rule instanceof CSSMediaRule) walk(rule.cssRules, inHover || /hover:\s*hover/.test(rule.conditionText));
          else if (rule.selectorText && rule.selectorText.includes(':hover') && !inHover) {
            findings.push({ check: 'hover-rule', what: rule.selectorText });
          }
        }
      };
      walk(sheet.cssRules, false);
    }
  
    // 2. Touch targets: every visible control at least 44x44 (a checkbox counts its label).
    const targets = [...document.querySelectorAll('button, a[href], select, input, textarea, [role=button]')].filter(visible);
    for (const t of targets) {
      let r = t.getBoundingClientRect();
      if (t.type === 'checkbox' || t.type === 'radio') {
        const label = t.closest('label') || (t.id && document.querySelector(`label[for="${t.id}"]`));
        if (label) r = label.getBoundingClientRect();
      }
      if (r.width < 43.5 || r.height < 43.5) {
        findings.push({ check: 'small-target', what: describe(t), size: [Math.round(r.width), Math.round(r.height)] });
      }
    }
  
    // 3. Text: cut (ellipsis or clipped), off the screen, too small, or too faint.
    const page = Math.max(document.documentElement.scrollWidth, document.body.scrollWidth);
    if (page > vw + 1) findings.push({ check: 'horizontal-scroll', what: 'page', size: [page, vw] });
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const seen = new Set();
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (!n.textContent.trim()) continue;
      const el = n.parentElement;
      if (!el || seen.has(el) || !visible(el)) continue;
      if (el.closest('option, script, style, [aria-hidden=true]')) continue;
      seen.add(el);
      const s = getComputedStyle(el);
      // Cut: an element (or the nearest block that clips it) narrower than its text.
      for (let e = el; e && e !== document.body; e = e.parentElement) {
        const es = getComputedStyle(e);
        if (es.overflowX !== 'visible' || es.textOverflow === 'ellipsis') {
          if (e.scrollWidth > e.clientWidth + 1 && !['auto', 'scroll'].includes(es.overflowX)) {
            findings.push({ check: 'cut-text', what: describe(el), size: [e.scrollWidth, e.clientWidth] });
          }
          break;
        }
      }
      const range = document.createRange();
      range.selectNodeContents(n);
      // Text spilling out of its button (over the next one) is as unreadable as cut text.
      const control = el.closest('button, a[href]');
      if (control) {
        const box = control.getBoundingClientRect();
        for (const r of range.getClientRects()) {
          if (r.width && (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1)) {
            findings.push({ check: 'text-out-of-control', what: describe(el), x: [Math.round(r.left), Math.round(r.right)], box: [Math.round(box.left), Math.round(box.right)] });
            break;
          }
        }
      }
      for (const r of range.getClientRects()) {
        if (r.width && (r.right > vw + 1 || r.left < -1)) {
          findings.push({ check: 'off-screen-text', what: describe(el), x: [Math.round(r.left), Math.round(r.right)] });
          break;
        }
      }
      const size = parseFloat(s.fontSize);
      if (size < 14 && !el.closest('.tile-avatar')) {
        findings.push({ check: 'small-text', what: describe(el), size });
      }
      const bg = background(el);
      const fg = over(parse(s.color), bg);
      const shown = over([...fg.slice(0, 3), opacity(el)], bg);
      const c = ratio(shown, bg);
      if (c < 4.5) findings.push({ check: 'contrast', what: describe(el), ratio: Math.round(c * 100) / 100 });
    }
    return findings;
  },

  /** The hearing room's stage: the presiding judge's picture is the largest, and the self-view
   * covers at most a sliver (5 %) of it. */
  stage() {
    const room = document.querySelector('.room:not([hidden])');
    if (!room) return [];
    const area = (r) => Math.max(0, r.width) * Math.max(0, r.height);
    const judge = room.querySelector('.tile[data-role=judge] .tile-frame');
    if (!judge) return [{ check: 'stage', what: 'no judge tile' }];
    const j = judge.getBoundingClientRect();
    const findings = [];
    for (const other of room.querySelectorAll('.tile:not([data-role=judge]) .tile-frame')) {
      if (!other.offsetParent) continue;
      const o = other.getBoundingClientRect();
      if (area(o) > area(j)) findings.push({ check: 'judge-not-largest', what: other.closest('.tile').dataset.role });
    }
    const self = room.querySelector('.tile-local:not([hidden])');
    if (self) {
      const s = self.getBoundingClientRect();
      const x = Math.min(j.right, s.right) - Math.max(j.left, s.left);
      const y = Math.min(j.bottom, s.bottom) - Math.max(j.top, s.top);
      const covered = x > 0 && y > 0 ? (x * y) / area(j) : 0;
      if (covered > 0.05) findings.push({ check: 'self-view-covers-judge', what: `${Math.round(covered * 100)}%` });
    }
    return findings;
  },
})
