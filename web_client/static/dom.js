// Tiny DOM helpers. Text always goes in through textContent (never innerHTML): names and
// titles come from court data and must not be able to inject markup.
import { t, tracked } from './i18n.js';

/**
 * h('button', {class: 'primary', t: 'selftest.continue', on: {click: fn}}, child, ...)
 * Special attributes: class, text, t (catalogue key, re-translated when the language
 * changes), tp (its parameters), tattr ({attribute: key}), on ({event: handler}),
 * dataset ({name: value}), hidden/disabled/checked (booleans), style (object).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    switch (key) {
      case 'class': el.className = value; break;
      case 'text': el.textContent = value; break;
      case 't': break;
      case 'tp': break;
      case 'tattr': for (const [a, k] of Object.entries(value)) setAttrT(el, a, k); break;
      case 'on': for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn); break;
      case 'dataset': Object.assign(el.dataset, value); break;
      case 'style': Object.assign(el.style, value); break;
      case 'hidden': case 'disabled': case 'checked': case 'muted': case 'autoplay':
      case 'playsInline': case 'required':
        el[key] = Boolean(value); break;
      default: el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  if (attrs.t) setT(el, attrs.t, attrs.tp);
  append(el, ...children);
  return el;
}

export function append(el, ...children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** Set an element's text from the catalogue; it follows language changes. */
export function setT(el, key, params) {
  el.textContent = t(key, params);
  tracked.text.set(el, { key, params });
  el.dataset.i18n = key;
  return el;
}

/** Set an attribute (aria-label, title, placeholder) from the catalogue. */
export function setAttrT(el, attr, key, params) {
  el.setAttribute(attr, t(key, params));
  let map = tracked.attrs.get(el);
  if (!map) { map = new Map(); tracked.attrs.set(el, map); }
  map.set(attr, { key, params });
  el.dataset.i18nAttr = '1';
  return el;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}
