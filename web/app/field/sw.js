// The field app's service worker (scope /field/): the app shell opens without a network.
//
// - The shell (page, scripts, styles, icons, the shared modules, Leaflet): cache first, and
//   refreshed in the background on every load that has a network, so the next load is current.
// - The vocabulary and the district's base map: network first, the kept copy without a network.
// - Never cached: the WebSocket (/ws) and the live layers (/api/v1/layers/…), nor any other API
//   answer: live state comes from the server or from the app's own IndexedDB copy, never from here.
const VERSION = 'crest-field-v1';
const SHELL = [
  '/field/',
  '/field/field.js',
  '/field/field.css',
  '/field/strings.js',
  '/field/store.js',
  '/field/geo.js',
  '/field/position.js',
  '/field/patrol.js',
  '/field/common.js',
  '/field/sending.js',
  '/field/views.js',
  '/field/forms.js',
  '/field/fieldmap.js',
  '/field/manifest.webmanifest',
  '/field/icon.svg',
  '/field/icon-192.png',
  '/field/icon-512.png',
  '/shared/client.js',
  '/shared/i18n.js',
  '/shared/map.js',
  '/shared/token.js',
  '/shared/base.css',
  '/vendor/leaflet/leaflet-src.esm.js',
  '/vendor/leaflet/leaflet.css',
];
// Network-first files kept from the start, so that the first reload without network has them:
// the vocabulary and the base map's layers (public district geography, ~35 KB together).
const FIRST_COPY = ['/api/v1/vocabulary', ...['district', 'towns', 'water', 'rivers', 'roads', 'railways'].map((n) => `/api/v1/map/${n}`)];
const NETWORK_FIRST = [/^\/api\/v1\/vocabulary$/, /^\/api\/v1\/map(\/[^/]+)?$/];
const NEVER = [/^\/ws/, /^\/api\/v1\/layers/];

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(VERSION);
    // Each file on its own: one missing optional file must not leave the whole shell uncached.
    await Promise.all([...SHELL, ...FIRST_COPY].map(async (url) => {
      try {
        const res = await fetch(url, { cache: 'no-cache' });
        if (res.ok) await cache.put(url, res);
      } catch { /* offline at install: the next online load fills it */ }
    }));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith('crest-field-') && key !== VERSION) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

// The page tells which shell files it loaded before this worker controlled it (its first load):
// they are kept too, so a module added to the app or to the shared ones is never missed offline.
self.addEventListener('message', (event) => {
  const msg = event.data || {};
  if (msg.type !== 'keep' || !Array.isArray(msg.urls)) return;
  event.waitUntil((async () => {
    const cache = await caches.open(VERSION);
    for (const u of msg.urls) {
      const url = new URL(u, self.location.origin);
      if (url.origin !== self.location.origin || !/^\/(field|shared|vendor\/leaflet)\//.test(url.pathname)) continue;
      if (await cache.match(url.pathname)) continue;
      try {
        const res = await fetch(url.pathname, { cache: 'no-cache' });
        if (res.ok) await cache.put(url.pathname, res);
      } catch { /* offline: next time */ }
    }
  })());
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  const path = url.pathname;
  if (NEVER.some((re) => re.test(path))) return;
  if (NETWORK_FIRST.some((re) => re.test(path))) { event.respondWith(networkFirst(req)); return; }
  if (req.mode === 'navigate' && (path === '/field/' || path === '/field/index.html' || path === '/field')) {
    event.respondWith(cacheFirst(event, '/field/'));
    return;
  }
  if (path.startsWith('/api/')) return; // other API answers are live: never from a cache
  if (path.startsWith('/field/') || path.startsWith('/shared/') || path.startsWith('/vendor/leaflet/')) {
    event.respondWith(cacheFirst(event, path));
  }
});

// Cache first, and refresh the kept copy from the network in the background.
async function cacheFirst(event, key) {
  const cache = await caches.open(VERSION);
  const cached = await cache.match(key);
  const refresh = fetch(event.request.mode === 'navigate' ? key : event.request, { cache: 'no-cache' })
    .then(async (res) => {
      if (res && res.ok && res.type === 'basic') await cache.put(key, res.clone());
      return res;
    });
  if (cached) {
    event.waitUntil(refresh.catch(() => undefined));
    return cached;
  }
  try {
    return await refresh;
  } catch (err) {
    return new Response('offline', { status: 503, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
  }
}

async function networkFirst(req) {
  const cache = await caches.open(VERSION);
  const key = new URL(req.url).pathname;
  try {
    const res = await fetch(req);
    if (res.ok) await cache.put(key, res.clone());
    return res;
  } catch (err) {
    const cached = await cache.match(key);
    if (cached) return cached;
    throw err;
  }
}
