// A list that keeps one element per key and rebuilds an element only when its signature changed,
// so a list of 400 teams can follow a live picture without being rebuilt on every event.

/**
 * items: [{key, sig, build() → Element, patch?(node)}] in display order. Nodes whose key is gone
 * are removed; `keep(key)` can protect a node from being rebuilt (an open form inside it).
 */
export function syncKeyed(container, items, { keep } = {}) {
  if (!container._keyed) container._keyed = new Map();
  const nodes = container._keyed;
  const seen = new Set();
  let cursor = container.firstChild;
  for (const it of items) {
    seen.add(it.key);
    let rec = nodes.get(it.key);
    if (!rec) {
      rec = { node: it.build(), sig: it.sig };
      nodes.set(it.key, rec);
    } else if (rec.sig !== it.sig && !(keep && keep(it.key))) {
      const fresh = it.build();
      rec.node.replaceWith(fresh);
      if (cursor === rec.node) cursor = fresh;
      rec.node = fresh;
      rec.sig = it.sig;
    }
    if (it.patch) it.patch(rec.node);
    if (rec.node !== cursor) container.insertBefore(rec.node, cursor);
    else cursor = cursor.nextSibling;
  }
  for (const [key, rec] of nodes) {
    if (!seen.has(key)) {
      rec.node.remove();
      nodes.delete(key);
    }
  }
}
