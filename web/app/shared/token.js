// Signing in: the token is typed or pasted once and kept on this device (localStorage), never put
// in a URL (URLs end up in proxy logs and browser history). The WebSocket presents it in an
// `auth` message, HTTP calls in an Authorization header.

import { addStrings, applyI18n, t, toggleLang, errorText } from './i18n.js';

addStrings({
  'signin.title.dashboard': { zh: '防汛指挥调度台', en: 'Flood command dashboard' },
  'signin.title.field': { zh: '防汛现场终端', en: 'Flood field app' },
  'signin.token': { zh: '令牌', en: 'Token' },
  'signin.hint': {
    zh: '请输入值班员发放的令牌（crest_ 开头）。令牌只保存在本机。',
    en: 'Enter the token issued by the duty officer (it starts with crest_). It is kept on this device only.',
  },
  'signin.go': { zh: '登录', en: 'Sign in' },
  'signin.checking': { zh: '正在验证…', en: 'Checking…' },
  'signin.bad': { zh: '令牌无效或已吊销', en: 'The token is not valid or was revoked' },
  'signin.unreachable': { zh: '无法连接服务器', en: 'The server cannot be reached' },
  'signin.placeholder': { zh: 'crest_…', en: 'crest_…' },
});

const key = (app) => `crest.token.${app}`;

export function storedToken(app) {
  try {
    return localStorage.getItem(key(app));
  } catch {
    return null;
  }
}

export function forgetToken(app) {
  try {
    localStorage.removeItem(key(app));
  } catch {
    // Nothing stored.
  }
}

function remember(app, token) {
  try {
    localStorage.setItem(key(app), token);
  } catch {
    // Not remembered: the next load asks again.
  }
}

/** Checks a token by authenticating a throw-away WebSocket. Resolves `{ok, code?, message?}`. */
export function checkToken(token) {
  return new Promise((resolve) => {
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    let ws;
    try {
      ws = new WebSocket(`${proto}://${location.host}/ws`);
    } catch {
      resolve({ ok: false, code: 'unreachable' });
      return;
    }
    const done = (r) => {
      clearTimeout(timer);
      ws.onclose = null;
      ws.close();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: false, code: 'unreachable' }), 10000);
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token }));
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.type === 'authenticated') done({ ok: true, auth: msg });
      else if (msg.type === 'error') done({ ok: false, code: msg.code, message: msg.message, message_zh: msg.message_zh });
    };
    ws.onclose = () => done({ ok: false, code: 'unreachable' });
  });
}

/**
 * The token of `app` (`dashboard` or `field`): the stored one, or one asked for in a sign-in
 * overlay and checked against the server before it is kept.
 */
export function signIn(app) {
  const saved = storedToken(app);
  if (saved) return Promise.resolve(saved);
  return new Promise((resolve) => {
    const overlay = document.createElement('div');
    overlay.className = 'overlay signin';
    overlay.id = 'signin';
    overlay.innerHTML = `
      <form class="signin-box" autocomplete="off">
        <div class="signin-head">
          <h1 data-i18n="signin.title.${app}"></h1>
          <button type="button" class="btn lang-btn" id="signin-lang" data-i18n="lang.switch"></button>
        </div>
        <label for="signin-token" data-i18n="signin.token"></label>
        <input id="signin-token" name="token" type="password" spellcheck="false" autocapitalize="off" data-i18n-placeholder="signin.placeholder" required>
        <p class="hint" data-i18n="signin.hint"></p>
        <p class="signin-error" id="signin-error" role="alert"></p>
        <button type="submit" class="btn big primary" id="signin-go" data-i18n="signin.go"></button>
      </form>`;
    document.body.appendChild(overlay);
    applyI18n(overlay);
    const input = overlay.querySelector('#signin-token');
    const errorEl = overlay.querySelector('#signin-error');
    const go = overlay.querySelector('#signin-go');
    overlay.querySelector('#signin-lang').addEventListener('click', () => {
      toggleLang();
      applyI18n(overlay);
    });
    input.focus();
    overlay.querySelector('form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const token = input.value.trim();
      if (!token) return;
      go.disabled = true;
      errorEl.textContent = t('signin.checking');
      const r = await checkToken(token);
      go.disabled = false;
      if (r.ok) {
        remember(app, token);
        overlay.remove();
        resolve(token);
      } else if (r.code === 'unreachable') {
        errorEl.textContent = t('signin.unreachable');
      } else {
        errorEl.textContent = r.message ? `${t('signin.bad')}: ${errorText(r)}` : t('signin.bad');
      }
    });
  });
}
