// The device's own storage (IndexedDB): the outbox of actions and a copy of the last known layers.
//
// Every action is written to the outbox with its command id BEFORE it is sent, and removed only
// when the server acknowledged that id (a duplicate ack included). A reload, a crash or a dead
// battery between tap and ack therefore loses nothing, and the resend uses the same id, which the
// server never applies twice.

const DB_NAME = 'crest-field';
const DB_VERSION = 1;
const QUEUE = 'queue'; // {id, command, created, state: 'waiting'|'refused', error?, refused_at?}
const KV = 'kv'; // key → value (the last layers seen, for a reload without network)

let dbPromise = null;

function openDb() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, DB_VERSION);
      req.onupgradeneeded = () => {
        const db = req.result;
        if (!db.objectStoreNames.contains(QUEUE)) {
          const s = db.createObjectStore(QUEUE, { keyPath: 'id' });
          s.createIndex('created', 'created');
        }
        if (!db.objectStoreNames.contains(KV)) db.createObjectStore(KV);
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
      req.onblocked = () => reject(new Error('IndexedDB blocked'));
    });
  }
  return dbPromise;
}

function tx(storeName, mode, fn) {
  return openDb().then((db) => new Promise((resolve, reject) => {
    const t = db.transaction(storeName, mode);
    const store = t.objectStore(storeName);
    let result;
    const r = fn(store);
    if (r) r.onsuccess = () => { result = r.result; };
    // Resolve on complete, not on the request's success: only then is the write durable.
    t.oncomplete = () => resolve(result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error || new Error('transaction aborted'));
  }));
}

// Without IndexedDB (a private window of some browsers, storage refused) the outbox lives in
// memory: actions still wait for their ack and are resent on reconnect, only a reload loses them.
const memory = new Map();
let durable = true;
async function orMemory(op, fallback) {
  if (durable) {
    try { return await op(); } catch (err) {
      durable = false;
      console.warn('IndexedDB unavailable: the outbox is kept in memory only', err);
    }
  }
  return fallback();
}

export const outbox = {
  add(item) { return orMemory(() => tx(QUEUE, 'readwrite', (s) => s.add(item)), () => { memory.set(item.id, item); }); },
  put(item) { return orMemory(() => tx(QUEUE, 'readwrite', (s) => s.put(item)), () => { memory.set(item.id, item); }); },
  remove(id) { return orMemory(() => tx(QUEUE, 'readwrite', (s) => s.delete(id)), () => { memory.delete(id); }); },
  get(id) { return orMemory(() => tx(QUEUE, 'readonly', (s) => s.get(id)), () => memory.get(id)); },
  async all() {
    const items = (await orMemory(() => tx(QUEUE, 'readonly', (s) => s.getAll()), () => [...memory.values()])) || [];
    items.sort((a, b) => (a.created - b.created) || commandSeq(a.id) - commandSeq(b.id));
    return items;
  },
  isDurable() { return durable; },
};

export const kv = {
  get(key) { return tx(KV, 'readonly', (s) => s.get(key)); },
  set(key, value) { return tx(KV, 'readwrite', (s) => s.put(value, key)); },
  remove(key) { return tx(KV, 'readwrite', (s) => s.delete(key)); },
};

// Command ids: unique per device and never reused, also across reloads — `fd-<device>-<time>-<n>`.
const DEVICE_KEY = 'crest.field.device';
const COUNTER_KEY = 'crest.field.counter';

function deviceId() {
  let d = localStorage.getItem(DEVICE_KEY);
  if (!d) {
    const b = new Uint8Array(6);
    crypto.getRandomValues(b);
    d = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    localStorage.setItem(DEVICE_KEY, d);
  }
  return d;
}

export function newCommandId() {
  const n = (parseInt(localStorage.getItem(COUNTER_KEY) || '0', 10) || 0) + 1;
  localStorage.setItem(COUNTER_KEY, String(n));
  return `fd-${deviceId()}-${Date.now().toString(36)}-${n}`;
}

export function commandSeq(id) {
  const m = /-(\d+)$/.exec(id || '');
  return m ? parseInt(m[1], 10) : 0;
}
